"""Chinese text normalisation and tokenisation shared by the index and the bot.

Normalisation: NFKC (full-width → half-width), traditional → simplified (OpenCC), control
characters removed, Latin lower-cased, whitespace collapsed. Tokens: jieba words (with a user
dictionary of KB terms and place names) plus character bigrams, so that a short query with a
typo still shares most of its tokens with the right entry.
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import jieba
import opencc

jieba.setLogLevel(logging.WARNING)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+")
_STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 嘛 么 哦 喔 哈 我 我们 你 您 他 她 它 们 是 在 有 和 与 及 或 就 都 也 还 要 想 想要 请问 请 问 问下 一下 "
    "怎么 怎么办 怎么样 怎样 咋 咋办 啥 如何 什么 哪里 哪儿 哪 多少 能 能不能 可以 可不可以 需要 得 应该 一个 这个 那个 这 那 该 吧 "
    "现在 今天 今年 明年 去年 麻烦 帮 帮我 告诉 知道 了解 一些 有没有 是不是 把 给 被 让 对 从 向 往 到 先 再 个 自己 一下 "
    "干嘛 干啥 合理 可以吗 行吗 好吗 是否 会 能够 人 事 事情".split())

_converter_lock = threading.Lock()
_user_words: set[str] = set()
_index_lock = threading.Lock()
_index_kept: list[dict[str, tuple[str, ...]]] = [{}]  # [the last index build's texts → tokens]


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """Not cached: most texts are citizens' and are seen once (`IndexTokens` keeps the KB's tokens)."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    if _HAN.search(text):
        with _converter_lock:
            text = _t2s().convert(text)
    return _SPACES.sub(" ", text).strip().lower()


def normalise_head(text: str, limit: int) -> str:
    """The first `limit` characters of the normalised text (a long text is judged on its
    beginning; twice as much raw text is read, since normalising can only shorten it)."""
    return normalise(text[: limit * 2])[:limit]


def add_user_words(words: Iterable[str]) -> None:
    """Teach jieba the KB's terms and the gazetteer's names (idempotent)."""
    added = False
    for word in words:
        word = normalise(word)
        if len(word) >= 2 and word not in _user_words:
            _user_words.add(word)
            jieba.add_word(word, freq=2000)
            added = True
    if added:  # earlier tokenisations may now split differently
        clear_index_tokens()


def tokens(text: str) -> tuple[str, ...]:
    """Search tokens of normalised text: jieba words without stop words, and Han bigrams.
    Not cached: a citizen's question is tokenised once, and caching every one would grow the
    process by about 2 KB per distinct ticket."""
    out: list[str] = []
    for word in jieba.lcut(text):
        word = word.strip()
        if word and word not in _STOPWORDS and _WORD.fullmatch(word):
            out.append(word)
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", text):
        out.extend("#" + run[i:i + 2] for i in range(len(run) - 1))
    return tuple(out)


class IndexTokens:
    """`tokens` for the texts of one index build (the KB's titles, phrasings, tags and answers),
    reusing the previous build's: a rebuild after one publish re-tokenises only what changed.
    `keep()` makes this build's texts the ones kept, so the cache holds exactly the current
    knowledge base's texts, however many citizens' texts are tokenised meanwhile."""

    def __init__(self) -> None:
        with _index_lock:
            self._previous = _index_kept[0]
        self._current: dict[str, tuple[str, ...]] = {}

    def __call__(self, text: str) -> tuple[str, ...]:
        found = self._current.get(text)
        if found is None:
            found = self._previous.get(text)
            if found is None:
                found = tokens(text)
            self._current[text] = found
        return found

    def keep(self) -> None:
        with _index_lock:
            _index_kept[0] = self._current


def clear_index_tokens() -> None:
    with _index_lock:
        _index_kept[0] = {}


def index_tokens_kept() -> int:
    """How many texts' tokens are kept between index builds."""
    return len(_index_kept[0])

