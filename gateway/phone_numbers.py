"""Mainland China phone numbers → E.164, and masking for logs and screens."""
from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code with trunk 0 (010, 022, 0311 …) followed by a 7–8 digit local number.
_LANDLINE = re.compile(r"0(10|2\d|[3-9]\d{2})([1-9]\d{6,7})")
_BEIJING_LOCAL = re.compile(r"[2-9]\d{7}")


# A number inside free text: a mobile, or a landline with its area code.
PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
# Speech recognition writes numbers as characters (一三八…) as often as digits.
_SPOKEN_DIGITS = str.maketrans({"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
                                "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9", "勾": "9"})
_DIGIT_RUN_GAPS = re.compile(r"(?<=\d)[\s，,、-]+(?=\d)")


class InvalidPhone(ValueError):
    pass


def phone_in_text(text: str) -> str | None:
    """The first valid E.164 number written or spoken in `text` (digits or 一三八…), or None."""
    digits = _DIGIT_RUN_GAPS.sub("", text.translate(_SPOKEN_DIGITS))
    for match in PHONE_IN_TEXT.finditer(digits):
        try:
            return to_e164(match.group(0))
        except InvalidPhone:
            continue
    return None


def to_e164(raw: str) -> str:
    """Normalise a mainland mobile or landline number; a bare 8-digit number is a Beijing line."""
    digits = _SEPARATORS.sub("", raw.strip())
    for country_prefix in ("+86", "0086"):
        if digits.startswith(country_prefix):
            digits = digits[len(country_prefix):]
            if not _MOBILE.fullmatch(digits):
                digits = "0" + digits  # +86 10 … carries no trunk prefix
            break
    if _MOBILE.fullmatch(digits):
        return "+86" + digits
    landline = _LANDLINE.fullmatch(digits)
    if landline:
        area, local = landline.groups()
        if area == "10" and len(local) != 8:
            raise InvalidPhone(raw)  # Beijing numbers are all 8 digits
        return f"+86{area}{local}"
    if _BEIJING_LOCAL.fullmatch(digits):
        return "+8610" + digits
    raise InvalidPhone(raw)


def mask(e164: str | None) -> str | None:
    """+8613812345678 → 138****5678 (what an agent list or a log line may show)."""
    if not e164:
        return e164
    national = e164[3:] if e164.startswith("+86") else e164
    if len(national) <= 4:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7 if len(national) > 7 else 1) + national[-4:]
