"""Registration, profile, unbinding and secretaries' review, as chats through the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

import handlers
from bot.chat.router import Router
from bot.domain.roster import clean_name, import_file
from bot.infra.clock import FrozenClock
from bot.infra.config import Settings
from bot.infra.db import Database
from bot.infra.i18n import Catalogue
from handlers import common, profile, register, review, welcome
from handlers.register import choose
from models.audit import Channel
from models.member import Identity, LiaisonGroup, Member, MemberApplication, MemberStatus
from tests.audit_support import only_event
from tests.support import AppHarness, running_app

T = Catalogue()
ROSTER = """姓名,性别,手机号,界别,专委会,联络组,工作单位及职务,届次,角色
王芳,女,13800000001,经济界,提案委员会,城关镇,县农商银行行长,第六届,组长
李强,男,13800000002,教育界,教科卫体委员会,城关镇,县第一中学校长,第六届,委员
赵敏,女,13800000003,医药卫生界,,东山镇,县人民医院院长,第六届,委员
钱秘书,女,13800000009,,,,县政协联络办,,秘书
孙秘书,男,13800000008,,,,县政协联络办,,秘书
停用者,男,13800000007,经济界,,东山镇,,第六届,委员
"""


def routers() -> list[Router]:
    """The real order once the lead has listed these modules; until then the same order by hand."""
    if register.router in handlers.ROUTERS:
        return handlers.ROUTERS
    return [common.router, register.router, profile.router, review.router, welcome.router]


@pytest.fixture
async def roster(db: Database, tmp_path: Path) -> Database:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    await import_file(db, path)
    async with db.session() as session:
        suspended = await session.scalar(select(Member).where(Member.mobile == "13800000007"))
        assert suspended is not None
        suspended.status = MemberStatus.SUSPENDED
    return db


@pytest.fixture
async def app(roster: Database, settings: Settings, clock: FrozenClock) -> AsyncIterator[AppHarness]:
    async with running_app(settings, clock, routers=routers()) as harness:
        yield harness


async def register_from_roster(app: AppHarness, user: str, name: str, mobile: str) -> str:
    chat = app.chat(user)
    assert await chat.says("注册") == T("register.ask_name")
    assert await chat.says(name) == T("register.ask_mobile", name=clean_name(name))
    return await chat.says(mobile)


async def apply_as_stranger(app: AppHarness, user: str = "sim-lin") -> str:
    chat = app.chat(user)
    await chat.says("注册")
    await chat.says("林晓梅")
    asked = await chat.says("13900000001")
    assert T("register.not_in_roster") in asked and "1. 经济界" in asked
    asked = await chat.says("1")
    assert "1. 城关镇" in asked and "2. 东山镇" in asked
    return await chat.says("东山")  # part of a name is enough when only one fits


# --- roster match -------------------------------------------------------------------------------

async def test_roster_match_binds_at_once(app: AppHarness) -> None:
    reply = await register_from_roster(app, "sim-wang", "王  芳", "１３８ ００００ ０００１")
    assert reply.startswith("注册成功")
    assert "城关镇" in reply and "联络组组长" in reply and "提案委员会" in reply

    chat = app.chat("sim-wang")
    card = await chat.says("我的")
    assert "姓名：王芳" in card and "界别：经济界" in card
    again = await chat.clicks("REGISTER")
    assert again.startswith("您已经注册过了") and "姓名：王芳" in again


async def test_mobile_bound_to_another_account_is_refused(app: AppHarness) -> None:
    await register_from_roster(app, "sim-wang", "王芳", "13800000001")
    refused = await register_from_roster(app, "sim-intruder", "王芳", "13800000001")
    assert refused == T("register.mobile_taken")
    async with app.services.db.reader() as session:
        bound = (await session.scalars(select(Identity.external_id))).all()
    assert list(bound) == ["sim-wang"]
    assert await app.chat("sim-intruder").says("我的") == T("members.profile.not_registered")


async def test_suspended_member_cannot_bind(app: AppHarness) -> None:
    reply = await register_from_roster(app, "sim-x", "停用者", "13800000007")
    assert reply == T("register.not_active", status="暂停")


# --- wrong inputs -------------------------------------------------------------------------------

async def test_wrong_answers_are_reasked_then_the_third_ends_politely(app: AppHarness) -> None:
    chat = app.chat("sim-typo")
    await chat.says("注册")
    assert await chat.says("1") == T("register.bad_name")
    assert await chat.says("王芳") == T("register.ask_mobile", name="王芳")  # a good answer resets the count
    assert await chat.says("12345") == T("register.bad_mobile")
    assert await chat.says("13800000002") == T("register.name_mismatch", name="王芳")  # 李强's number
    assert await chat.says("138000") == T("conversation.too_many_wrong")
    assert "没有看懂" in await chat.says("13800000001")  # the conversation is over


async def test_wrong_choice_in_a_numbered_list(app: AppHarness) -> None:
    chat = app.chat("sim-lin")
    await chat.says("注册")
    await chat.says("林晓梅")
    await chat.says("13900000001")
    assert await chat.says("99") == T("register.bad_choice", text="99")
    assert await chat.says("界") == T("register.bad_choice", text="界")  # fits several sectors
    assert "1. 城关镇" in await chat.says("教育界")


async def test_cancel_in_the_middle(app: AppHarness) -> None:
    chat = app.chat("sim-lin")
    await chat.says("注册")
    await chat.says("林晓梅")
    assert await chat.says("取消") == T("common.cancelled")
    assert "没有看懂" in await chat.says("13900000001")


# --- applications and review --------------------------------------------------------------------

async def test_application_approved_in_chat_and_applicant_told(app: AppHarness) -> None:
    assert (await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")).startswith("注册成功")

    applied = await apply_as_stranger(app)
    assert applied.startswith("申请已提交") and "东山镇" in applied and "经济界" in applied
    assert await app.chat("sim-lin").says("注册") == T("register.already_applied")
    assert await app.chat("sim-lin").says("我的") == T("members.profile.pending")

    secretary = app.chat("sim-qian")
    assert any("新的注册申请：林晓梅（东山镇）" in text for text in await secretary.pushes())
    listing = await secretary.says("审核")
    assert "待审核的注册申请（1 份）" in listing and "1. 林晓梅，13900000001，经济界，东山镇" in listing
    done = await secretary.says("通过 1")
    assert done.startswith(T("members.review.approved", name="林晓梅")) and T("members.review.empty") in done

    applicant = app.chat("sim-lin")
    assert any(text.startswith("林晓梅，您的注册申请已通过审核") for text in await applicant.pushes())
    assert "姓名：林晓梅" in await applicant.says("我的")
    async with app.services.db.reader() as session:
        qian = await session.scalar(select(Member).where(Member.mobile == "13800000009"))
        lin = await session.scalar(select(Member).where(Member.mobile == "13900000001"))
    assert qian is not None and lin is not None
    await only_event(app.services.db, "member.approve", channel=Channel.CHAT, actor_member_id=qian.id,
                     actor_label="钱秘书", object_type="member", object_id=lin.id, group_id=lin.group_id,
                     before={"status": "pending"}, after={"status": "active"})


async def test_application_rejected_in_chat_with_a_reason(app: AppHarness) -> None:
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await apply_as_stranger(app)
    secretary = app.chat("sim-qian")
    await secretary.says("审核")
    assert await secretary.says("不通过 1") == T("members.review.ask_reason", name="林晓梅")
    assert await secretary.says("否") == T("members.review.bad_reason")
    done = await secretary.says("名册中没有此人")
    assert done.startswith(T("members.review.rejected", name="林晓梅"))

    pushes = await app.chat("sim-lin").pushes()
    assert any("没有通过审核" in text and "名册中没有此人" in text for text in pushes)
    async with app.services.db.reader() as session:
        member = await session.scalar(select(Member).where(Member.mobile == "13900000001"))
    assert member is not None and member.status is MemberStatus.REJECTED
    await only_event(app.services.db, "member.reject", channel=Channel.CHAT, actor_label="钱秘书",
                     object_type="member", object_id=member.id, summary="名册中没有此人")

    # A rejected applicant may apply again; the same member row is reused (the mobile is unique).
    assert (await apply_as_stranger(app)).startswith("申请已提交")
    async with app.services.db.reader() as session:
        applications = (await session.scalars(select(MemberApplication.member_id))).all()
    assert len(applications) == 2 and len(set(applications)) == 1


async def test_review_number_then_decision(app: AppHarness) -> None:
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await apply_as_stranger(app)
    secretary = app.chat("sim-qian")
    await secretary.says("审核")
    shown = await secretary.says("1")
    assert shown.startswith("1. 林晓梅") and shown.endswith("回复“通过”批准，回复“不通过”驳回。")
    assert await secretary.says("也许") == T("members.review.bad_decision")
    assert (await secretary.says("通过")).startswith(T("members.review.approved", name="林晓梅"))


async def test_review_wrong_inputs(app: AppHarness) -> None:
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await apply_as_stranger(app)
    secretary = app.chat("sim-qian")
    await secretary.says("审核")
    assert await secretary.says("通过 5") == T("members.review.bad_number", number="5")
    assert await secretary.says("好的") == T("members.review.bad_input")
    assert await secretary.says("嗯") == T("conversation.too_many_wrong")


async def test_two_secretaries_one_decision(app: AppHarness) -> None:
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await register_from_roster(app, "sim-sun", "孙秘书", "13800000008")
    await apply_as_stranger(app)
    qian, sun = app.chat("sim-qian"), app.chat("sim-sun")
    await qian.says("审核")
    await sun.says("审核")
    assert (await qian.says("通过 1")).startswith(T("members.review.approved", name="林晓梅"))
    late = await sun.says("不通过 1")
    assert late.startswith(T("members.review.already_decided", name="林晓梅", status="正常"))
    approved = [t for t in await app.chat("sim-lin").pushes() if "通过审核" in t]
    assert len(approved) == 1


async def test_scoped_secretary_sees_only_their_groups(app: AppHarness) -> None:
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await register_from_roster(app, "sim-sun", "孙秘书", "13800000008")
    async with app.services.db.session() as session:
        chengguan = await session.scalar(select(LiaisonGroup.id).where(LiaisonGroup.name == "城关镇"))
        sun = await session.scalar(select(Member).where(Member.mobile == "13800000008"))
        assert sun is not None and chengguan is not None
        sun.scope_group_ids = [chengguan]
    await apply_as_stranger(app)  # applies to 东山镇

    assert not any("林晓梅" in text for text in await app.chat("sim-sun").pushes())
    assert await app.chat("sim-sun").says("审核") == T("members.review.empty")
    assert "林晓梅" in await app.chat("sim-qian").says("审核")


async def test_members_may_not_review(app: AppHarness) -> None:
    await register_from_roster(app, "sim-li", "李强", "13800000002")
    assert await app.chat("sim-li").says("审核") == T("members.forbidden")
    assert await app.chat("sim-nobody").says("审核") == T("members.forbidden")


async def test_review_takes_the_answers_of_every_queue(app: AppHarness) -> None:
    """handlers.kit.review: 拒绝 and a reason on the same line, a change of mind while asked for the reason,
    审核 again for a fresh list, and other commands while the list is open."""
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await apply_as_stranger(app)
    secretary = app.chat("sim-qian")
    first = await secretary.says("审核")
    assert "姓名：钱秘书" in await secretary.says("我的")  # another command, the list still open
    assert await secretary.says("拒绝 1") == T("members.review.ask_reason", name="林晓梅")
    assert await secretary.says("审核") == first  # the start word is no reason: a fresh list
    rejected = await secretary.says("拒绝 1：名册中没有此人")
    assert rejected.startswith(T("members.review.rejected", name="林晓梅")) and T("members.review.empty") in rejected
    pushes = await app.chat("sim-lin").pushes()
    assert any("没有通过审核" in text and "名册中没有此人" in text for text in pushes)


async def test_review_changes_its_mind_while_asked_for_the_reason(app: AppHarness) -> None:
    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await apply_as_stranger(app)
    secretary = app.chat("sim-qian")
    await secretary.says("审核")
    await secretary.says("1")
    assert await secretary.says("驳回") == T("members.review.ask_reason", name="林晓梅")
    assert (await secretary.says("同意 1")).startswith(T("members.review.approved", name="林晓梅"))


# --- restart, unbinding ---------------------------------------------------------------------------

async def test_restart_in_the_middle_loses_nothing(
    roster: Database, settings: Settings, clock: FrozenClock
) -> None:
    async with running_app(settings, clock, routers=routers()) as first:
        chat = first.chat("sim-lin")
        await chat.says("注册")
        await chat.says("林晓梅")
        await chat.says("13900000001")
    async with running_app(settings, clock, routers=routers()) as second:
        chat = second.chat("sim-lin")
        assert "1. 城关镇" in await chat.says("经济界")
        assert (await chat.says("2")).startswith("申请已提交")


async def test_unbind_with_confirmation(app: AppHarness) -> None:
    await register_from_roster(app, "sim-wang", "王芳", "13800000001")
    chat = app.chat("sim-wang")
    assert await chat.says("解绑") == T("members.unbind.confirm")
    assert await chat.says("算了") == T("members.unbind.kept")
    assert "姓名：王芳" in await chat.says("我的")
    await chat.says("解绑")
    assert await chat.says("确认") == T("members.unbind.done")
    assert await chat.says("我的") == T("members.profile.not_registered")
    assert await app.chat("sim-nobody").says("解绑") == T("members.unbind.not_bound")
    # The member may bind again, from the same or a new account.
    assert (await register_from_roster(app, "sim-wang-new", "王芳", "13800000001")).startswith("注册成功")


async def test_unbind_is_confirmed_by_any_confirming_word(app: AppHarness) -> None:
    """handlers.kit.words.CONFIRM: the same words confirm here as in every other conversation."""
    await register_from_roster(app, "sim-wang", "王芳", "13800000001")
    chat = app.chat("sim-wang")
    await chat.says("解绑")
    assert await chat.says("好的") == T("members.unbind.kept")  # an acknowledgement is not a consent
    await chat.says("解绑")
    assert await chat.says("是的") == T("members.unbind.done")


# --- the choice parser ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("1", 10), ("２", 20), (" 3 ", 30), ("3.", 30), ("4", None), ("0", None),
    ("城关镇", 10), ("城 关 镇", 10), ("东山", 20), ("镇", None), ("", None), ("县直", 30),
])
def test_choose(text: str, expected: int | None) -> None:
    options = [(10, "城关镇"), (20, "东山镇"), (30, "县直机关")]
    assert choose(text, options) == expected


async def test_start_words_inside_the_conversations_start_over(app: AppHarness) -> None:
    chat = app.chat("sim-lin")
    await chat.says("注册")
    await chat.says("林晓梅")
    assert await chat.says("注册") == T("register.ask_name")
    assert await chat.says("林晓梅") == T("register.ask_mobile", name="林晓梅")

    await register_from_roster(app, "sim-qian", "钱秘书", "13800000009")
    await apply_as_stranger(app, "sim-zhou")
    secretary = app.chat("sim-qian")
    first = await secretary.says("审核")
    assert await secretary.says("审核") == first
