"""The answers members type inside a conversation, each defined once: the Chinese words older members
use and the English ones, normalised (:func:`bot.chat.router.normalise`) so a step compares
``normalise(ctx.text) in CONFIRM``.

An answer is what a step asks for (确认, 跳过, 通过 2 …); a command starts something from anywhere
(报送, 签到 …) and stays with its handler module. Every conversation uses these sets; a step adds a word
of its own only where the word really belongs to that step (``发送`` confirms a broadcast, ``创建`` an
activity, ``核实`` verifies a duty claim), with ``CONFIRM | answer("发送")``.

Two words that sound alike mean one thing each, everywhere:

- ``修改`` (:data:`EDIT`): go back and change something already given; the step says what (a report's
  preview asks which part, a broadcast's goes back to its text).
- ``重写`` (:data:`REWRITE`): drop the text of this step and write it again from nothing (a report's body
  is cleared; a broadcast's text is asked again, and the new one replaces the old).

The review queues (:mod:`handlers.kit.review`) take :data:`APPROVE` and :data:`REJECT` for every
decision, each queue adding the words of its own actions (``退回`` a claim, ``维持`` an appeal). A yes/no
question is a :data:`CONFIRM` (anything else keeps things as they are). No step asks for 返回 or 下一页 yet
(a next page is the command ``履职明细 2``): such an answer is added here when one does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.chat.router import normalise


def answer(*words: str) -> frozenset[str]:
    """The words of one answer, normalised the way :func:`normalise` folds what members type."""
    return frozenset(normalise(word) for word in words)


# Not 好 / 好的: members say that to acknowledge what they read, not to agree to what it asks.
CONFIRM = answer("确认", "确定", "是", "是的", "confirm", "yes")
CANCEL = answer("取消", "退出", "cancel", "quit")  # works in every state (handlers.common)
SKIP = answer("跳过", "不需要", "不用", "没有", "无", "skip", "none")
DONE = answer("完成", "好了", "写完了", "完了", "done", "ok")
SUBMIT = answer("提交", "submit")
EDIT = answer("修改", "更改", "edit")
REWRITE = answer("重写", "重新写", "rewrite")
APPROVE = answer("通过", "同意", "批准", "approve", "yes")
REJECT = answer("不通过", "不同意", "不批准", "驳回", "拒绝", "reject", "deny", "no")


def alternation(words: Iterable[str]) -> str:
    """A regular-expression group of ``words``, longest first (``不通过`` is tried before ``通过``)."""
    return "(" + "|".join(re.escape(word) for word in sorted(words, key=lambda word: (-len(word), word))) + ")"


# Full-width digits, letters, signs and spaces, one character each; Chinese punctuation (，：) stays.
_HALF_WIDTH = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                                *range(0xFF41, 0xFF5B), 0xFF0B, 0xFF0D, 0xFF0E, 0xFF0F)}
_HALF_WIDTH[0x3000] = 0x20


def flat(text: str) -> str:
    """What a member typed with full-width digits, letters and spaces made half-width, and nothing else
    changed: the reason after ``申诉 3`` or ``驳回 2`` keeps its own punctuation and case."""
    return text.translate(_HALF_WIDTH).strip()
