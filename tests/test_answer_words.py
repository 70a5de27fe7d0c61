"""The vocabulary of answers (handlers.kit.words) and the review queue's reading of them (handlers.kit.review):
each answer defined once and normalised, approve and reject apart, the longest word tried first, one word per
action in a queue, and the byte budget of a queue's list (handlers.kit.paging)."""

from __future__ import annotations

import re

import pytest

from bot.chat.router import State, StatesGroup, normalise
from handlers.kit import review, words
from handlers.kit.paging import lines_that_fit

ANSWERS = {name: getattr(words, name) for name in ("CONFIRM", "CANCEL", "SKIP", "DONE", "SUBMIT", "EDIT", "REWRITE",
                                                    "APPROVE", "REJECT")}


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_answer_is_stored_the_way_members_type_are_compared(name: str) -> None:
    answer = ANSWERS[name]
    assert answer and all(word == normalise(word) for word in answer)


def test_what_older_members_type_is_understood() -> None:
    assert {"是", "确认", "yes"} <= words.CONFIRM
    assert normalise("ＹＥＳ") in words.CONFIRM and normalise(" 确定 ") in words.CONFIRM
    assert "好" not in words.CONFIRM and "好的" not in words.CONFIRM  # an acknowledgement, not a consent
    assert {"拒绝", "驳回", "不通过", "不批准", "不同意"} <= words.REJECT
    assert {"通过", "同意", "批准"} <= words.APPROVE


def test_answers_that_one_step_takes_together_do_not_share_a_word() -> None:
    assert not words.APPROVE & words.REJECT
    assert not words.EDIT & words.REWRITE  # 修改 and 重写 mean one thing each
    assert not words.DONE & words.REWRITE
    assert not words.CONFIRM & words.CANCEL


def test_the_longest_word_is_tried_first() -> None:
    pattern = re.compile(rf"^{words.alternation(['通过', '不通过', 'no', 'none'])}")
    assert pattern.match("不通过 1").group(1) == "不通过"  # type: ignore[union-attr]
    assert pattern.match("none").group(1) == "none"  # type: ignore[union-attr]


def test_flat_keeps_what_was_typed_but_full_width_signs() -> None:
    assert words.flat(" 驳回　２　名册中没有此人，请核实。 ") == "驳回 2 名册中没有此人，请核实。"
    assert words.flat("更正１＋７分 Ａ") == "更正1+7分 A"


class _Queue(StatesGroup):
    choose = State()
    decide = State()


async def _nothing(*_: object) -> str:
    return ""


def _queue(actions: list[review.Action[object]]) -> review.ReviewQueue[object, object]:
    texts = review.QueueTexts(forbidden="f", empty="e", title="t", more="m", how="h", bad_input="i",
                              bad_decision="d", bad_number="n")
    return review.ReviewQueue(_Queue, ("q",), "Q", allowed=lambda ctx: True, load=_nothing,  # type: ignore[arg-type]
                              ident=id, line=_nothing, check=_nothing, detail=_nothing, actions=actions, texts=texts)


def test_a_word_takes_one_action_of_a_queue() -> None:
    with pytest.raises(ValueError, match="退回"):
        _queue([review.Action("reject", words.REJECT | words.answer("退回"), _nothing),
                review.Action("return", words.answer("退回"), _nothing)])


def test_the_queue_reads_numbers_actions_and_what_follows() -> None:
    approve = review.Action("approve", words.APPROVE, _nothing)
    reject = review.Action("reject", words.REJECT, _nothing,
                           ask=review.Ask(_Queue.decide, lambda *_: "", lambda *_: ""))
    queue = _queue([approve, reject])
    said = queue._parse("２、", bare=False)
    assert said is not None and (said.action, said.number) == (None, 2)
    said = queue._parse("拒绝2：名册中没有此人", bare=False)
    assert said is not None and (said.action, said.number, said.rest) == (reject, 2, "名册中没有此人")
    said = queue._parse("通过 1 好", bare=False)
    assert said is not None and not said.complete  # approving takes nothing after the number
    said = queue._parse("不通过，没有证明", bare=True)
    assert said is not None and (said.action, said.number, said.rest) == (reject, None, "没有证明")
    assert queue._parse("不通过，没有证明", bare=False) is None  # in the list, a decision names its line
    assert queue._parse("notices", bare=True) is None  # "no" is a word of its own, not the start of another


def test_lines_fit_the_budget_but_one_is_always_shown() -> None:
    assert lines_that_fit(["12345", "12345", "12345"], 12) == 2
    assert lines_that_fit(["1234567890"], 4) == 1
    assert lines_that_fit([], 4) == 0
