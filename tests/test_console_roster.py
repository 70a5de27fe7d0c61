"""名册导入 in the console over HTTP: a dry run listing the row errors first, then the confirmed import (audited as
roster.import by the secretary); the file waits server-side for this session only; only secretaries of every
group (IMPORT_ROSTER) may import; CSRF.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.infra.config import Settings
from bot.infra.db import Database
from models.audit import AuditEvent, Channel
from models.member import Member
from tests.activity_support import Org
from tests.console_support import browsers, log_in
from tests.test_console_members import desk

__all__ = ["desk"]  # the fixture: 钱秘书 and 孙秘书 logged in

ROSTER = ("姓名,性别,手机号,界别,专委会,联络组,工作单位及职务,届次,角色\n"
          "新委员甲,男,13700000001,经济界,,东山镇,,十五届,\n"
          "新委员乙,女,1370000,经济界,,东山镇,,十五届,\n"  # row 3: a broken mobile
          "李强,男,13800000002,教育界,,东山镇,,十五届,\n")  # row 4: an existing member, updated
UPLOAD = re.compile(r'name="upload" value="([^"]+)"')


def roster_form(csrf: str | None, body: str = ROSTER, filename: str = "名册.csv") -> aiohttp.FormData:
    data = aiohttp.FormData()
    if csrf is not None:
        data.add_field("csrf", csrf)
    data.add_field("file", body.encode("utf-8"), filename=filename, content_type="text/csv")
    return data


async def count_members(db: Database) -> int:
    async with db.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Member)) or 0)


def waiting_files(settings: Settings) -> list[Path]:
    return sorted((Path(settings.media_dir) / "console-imports").glob("*"))


async def test_a_dry_run_then_the_import(desk: tuple, db: Database, settings: Settings, org: Org) -> None:
    _, office, _ = desk
    assert 'id="import"' in await office.text("/console/members")
    csrf = await office.csrf("/console/members/import")
    before = await count_members(db)
    response = await office.post("/console/members/import", data=roster_form(csrf))
    page = await response.text()
    assert response.status == 200
    errors = page.index('id="import-errors"')
    assert errors < page.index('id="import-summary"')  # the row errors first
    assert "第 3 行：手机号“1370000”不正确" in page
    assert "试运行（未写入数据库）：将新增 1 人，更新 1 人" in page and "错误 1 行" in page
    assert await count_members(db) == before and len(waiting_files(settings)) == 1  # nothing written, file kept

    upload = UPLOAD.search(page)
    assert upload
    done = await office.post("/console/members/import/confirm", data={"csrf": csrf, "upload": upload.group(1)})
    page = await done.text()
    assert done.status == 200 and 'id="import-done"' in page and "导入完成：新增 1 人，更新 1 人" in page
    assert await count_members(db) == before + 1 and waiting_files(settings) == []
    async with db.reader() as session:
        event = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "roster.import"))).one()
    assert (event.channel, event.actor_member_id) == (Channel.CONSOLE, org.qian.id)
    assert event.after is not None and event.after["created"] == 1 and event.after["errors"] == 1
    again = await office.post("/console/members/import/confirm", data={"csrf": csrf, "upload": upload.group(1)})
    assert again.status == 404 and "这个上传已失效" in await again.text()  # once


async def test_the_waiting_file_is_this_sessions_only(desk: tuple, db: Database) -> None:
    app, office, _ = desk
    csrf = await office.csrf("/console/members/import")
    upload = UPLOAD.search(await (await office.post("/console/members/import", data=roster_form(csrf))).text())
    assert upload
    async with browsers(app) as open_browser:
        other = open_browser()  # 钱秘书 again, on another device: another session
        await log_in(other, app.chat("sim-qian"))
        other_csrf = await other.csrf("/console/members/import")
        response = await other.post("/console/members/import/confirm",
                                    data={"csrf": other_csrf, "upload": upload.group(1)})
        assert response.status == 404
    guessed = await office.post("/console/members/import/confirm", data={"csrf": csrf, "upload": "../../etc/passwd"})
    assert guessed.status == 404
    async with db.reader() as session:
        assert await session.scalar(select(Member).where(Member.mobile == "13700000001")) is None


async def test_a_file_that_cannot_be_read_is_refused(desk: tuple, settings: Settings) -> None:
    _, office, _ = desk
    csrf = await office.csrf("/console/members/import")
    wrong = await office.post("/console/members/import", data=roster_form(csrf, filename="名册.txt"))
    assert wrong.status == 422 and "只支持 .xlsx 和 .csv 文件" in await wrong.text()
    columns = await office.post("/console/members/import", data=roster_form(csrf, body="姓名,性别\n张三,男\n"))
    assert columns.status == 422 and "表头缺少列：手机号、界别、联络组" in await columns.text()
    broken = await office.post("/console/members/import",
                               data=roster_form(csrf, body="not a workbook", filename="名册.xlsx"))
    text = await broken.text()
    assert broken.status == 422 and "无法读取文件 名册.xlsx" in text and settings.media_dir not in text
    assert waiting_files(settings) == []


async def test_only_secretaries_of_every_group_import_and_csrf(desk: tuple, db: Database) -> None:
    _, office, dongshan = desk
    assert 'id="import"' not in await dongshan.text("/console/members")
    refused = await dongshan.get("/console/members/import")
    assert refused.status == 403 and "只有负责全部联络组的秘书和管理员可以导入名册" in await refused.text()
    csrf = await dongshan.csrf("/console/members")
    posted = await dongshan.post("/console/members/import", data=roster_form(csrf))
    assert posted.status == 403
    before = await count_members(db)
    no_token = await office.post("/console/members/import", data=roster_form(None))
    assert no_token.status == 403 and await count_members(db) == before
