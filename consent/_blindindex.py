"""Keyed blind index over normalised names, so a name can be found without storing it.

Normalisation (:func:`normalise_name`) maps the usual spellings of one Russian, Ukrainian or
Belarusian name, in Cyrillic or in any common Latin transliteration, to one string, so that
``Кагарлицкий``, ``Kagarlitsky`` and ``Kagarlitskiy`` meet. It is deliberately lossy: it is a
matching key, never shown to anyone and never used to reconstruct a name. A false match costs
an advocate a second look; a missed match can hide a person, so the scheme leans towards
merging spellings.

The scheme, in order:

1. Apostrophe-like marks (``' ’ ʼ ʹ ʺ ` ´`` ...) are deleted without splitting the word, so
   ``Naval'nyy`` is one word (they usually transliterate ь and ъ).
2. NFKC, full Unicode case folding, NFKC again.
3. Cyrillic letters are transliterated to Latin by one table covering Russian, Ukrainian and
   Belarusian (plus a few letters of other Cyrillic alphabets): ж zh, х kh, ц ts, ч ch, ш sh,
   щ shch, й y, ы y, ю yu, я ya, е/ё/э e, є ye, і i, ї yi, ґ g, ў u; ь and ъ are dropped.
   Latin letters whose diacritic carries a sound are spelled out: š sh, ž zh, č ch, ŝ shch;
   a few letters with no decomposition are replaced (ł l, ø o, æ ae, œ oe, ı i, ...).
4. NFKD and removal of every nonspacing or enclosing mark (diacritics): é e, ë e, ï i.
   Step 3 runs again for any Cyrillic base letter that step 4 uncovered.
5. Everything that is not a letter, a digit or a spacing mark separates words; words are joined
   by one space, in their original order (``Kara-Murza`` = ``Kara Murza``).
6. Each word is reduced (on ASCII letters; other scripts pass through), repeatedly until it no
   longer changes:

   - ``shtch``, ``sch`` → ``shch``;  ``tch`` → ``ch``;  ``kh`` → ``h``;  ``tz`` → ``ts``;
     ``c`` not followed by ``h`` → ``ts`` (ISO 9 / scientific ц);  ``ks`` (not ``ksh``) and
     ``x`` → ``x``;  ``w`` → ``v``.
   - every run of the letters ``i``, ``y``, ``j`` becomes:
     ``y`` at the end of a word (``-iy -yy -ij -ii -yi -i -y`` endings, й after a vowel);
     ``y`` before a vowel ``a e o u`` (``ia ja iya`` = я, ``iu ju`` = ю, ``ie je`` = е);
     ``y`` after a vowel (``ai`` = ``ay`` = ай);
     otherwise ``i`` if the run has an ``i`` or ``j`` in it, else ``y`` (ы).
   - ``ye`` → ``e`` (``Yevgeny`` = ``Evgeny``);  a consonant followed by ``yo`` → that
     consonant and ``e`` (ё: ``Pyotr`` = ``Petr`` = ``Пётр``, ``Lyosha`` = ``Lesha``).
   - runs of one repeated character collapse to one (``Filipp`` = ``Filip``).

What meets (tested): Навальный / Navalny / Navalnyy / Naval'nyy / Navalnyj / Nawalny;
Яшин / Yashin / Iashin / Jašin; Кара-Мурза / Kara-Murza / Kara Murza; Лёша / Lesha / Lyosha;
Юлия / Yulia / Yuliya / Iuliia / Julija; Александр / Aleksandr / Alexandr; Щукин / Shchukin /
Schukin; Зеленський / Zelenskyy / Zelensky / Zelenskiy ...

What does not meet: different name forms (Alexander ≠ Aleksandr, Peter ≠ Pyotr); German and
Polish conventions that reuse letters with another value (Kagarlizki with z = ц, Michail with
ch = х, Jaschin with sch = ш); the Ukrainian г written h (Horinov ≠ Горинов = Gorinov);
``dj`` for дж (Djemilev ≠ Dzhemilev); words split or joined differently (KaraMurza ≠ Kara
Murza). The merges it makes on purpose also join a few genuinely different spellings (ы and и
before a vowel, е and э, т+с and ц): acceptable for a search key.

The index itself: ``token`` is ``hex(HMAC-SHA256(key, normalised || 0x00 || birth_date))``
(an empty birth date when unknown) and ``name_token`` is ``hex(HMAC-SHA256(key, normalised))``.
A normalised name never contains 0x00, so the two never coincide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata

from consent._errors import InvalidIdentity

__all__ = ["BLIND_INDEX_KEY_BYTES", "BlindIndex", "normalise_name"]

BLIND_INDEX_KEY_BYTES = 32

_APOSTROPHES = "'\u2019\u2018\u02bc\u02b9\u02ba\u02bb\u02bd\u0060\u00b4\u2032\u2033\u201b\uff07\""
_APOSTROPHE_TABLE = {ord(c): None for c in _APOSTROPHES}

_CYRILLIC: dict[str, str] = {
    # Russian
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
    # Ukrainian and Belarusian
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u",
    # pre-1918 Russian
    "ѣ": "e", "ѳ": "f", "ѵ": "i",
    # other Cyrillic alphabets of the region (Kazakh, Tatar, Bashkir, Kyrgyz, Serbian...)
    "ә": "a", "ө": "o", "ү": "u", "ұ": "u", "қ": "k", "ғ": "g", "ң": "n", "һ": "h",
    "җ": "zh", "ҙ": "z", "ҫ": "s", "ј": "j", "љ": "lj", "њ": "nj", "ђ": "dj", "ћ": "ts",
    "џ": "dzh", "ѕ": "dz", "ѓ": "g", "ќ": "k",
    # Latin letters whose diacritic carries a sound, or that have no decomposition
    "š": "sh", "ž": "zh", "č": "ch", "ŝ": "shch", "ĉ": "ch",
    "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i",
    "ß": "ss", "ŋ": "n", "ħ": "h", "ŧ": "t",
}  # fmt: skip
_TRANSLIT_TABLE = {ord(k): v for k, v in _CYRILLIC.items()}

_VOWELS = "aeou"

_WORD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"shtch|sch"), "shch"),
    (re.compile(r"tch"), "ch"),
    (re.compile(r"kh"), "h"),
    (re.compile(r"tz"), "ts"),
    (re.compile(r"c(?!h)"), "ts"),
    (re.compile(r"ks(?!h)"), "x"),
    (re.compile(r"w"), "v"),
)
_IYJ_RUN = re.compile(r"[iyj]+")
_YE = re.compile(r"ye")
_CONSONANT_YO = re.compile(r"(?<=[bcdfghklmnpqrstvxz])yo")
_DOUBLES = re.compile(r"([^\W\d_])\1+")  # doubled letters only: "11" is not "1"
_MAX_ROUNDS = 16


def _keep(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "LN" or category == "Mc"


def _iyj(match: re.Match[str]) -> str:
    run, word = match.group(), match.string
    start, end = match.span()
    if end == len(word):
        return "y"
    if word[end] in _VOWELS:
        return "y"
    if start > 0 and word[start - 1] in _VOWELS:
        return "y"
    return "i" if ("i" in run or "j" in run) else "y"


def _reduce_word(word: str) -> str:
    for _ in range(_MAX_ROUNDS):
        before = word
        for pattern, replacement in _WORD_RULES:
            word = pattern.sub(replacement, word)
        word = _IYJ_RUN.sub(_iyj, word)
        word = _YE.sub("e", word)
        word = _CONSONANT_YO.sub("e", word)
        word = _DOUBLES.sub(r"\1", word)
        if word == before:
            break
    return word


def _normalise_once(name: str) -> str:
    text = name.translate(_APOSTROPHE_TABLE)
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHE_TABLE)
    text = text.translate(_TRANSLIT_TABLE)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Me"))
    text = text.translate(_TRANSLIT_TABLE)
    words = "".join(ch if _keep(ch) else " " for ch in text).split()
    return " ".join(_reduce_word(w) for w in words)


def normalise_name(name: str) -> str:
    """The matching form of a name (see the module docstring). Never raises on text.

    Idempotent: ``normalise_name(normalise_name(x)) == normalise_name(x)``. The steps are
    applied until the result no longer changes, which settles the rare characters whose
    case folding and normalisation interact (the bound is never reached in practice).
    """
    if not isinstance(name, str):
        raise TypeError("A name is text.")
    current = _normalise_once(name)
    for _ in range(_MAX_ROUNDS):
        following = _normalise_once(current)
        if following == current:
            break
        current = following
    return current


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _canonical_birth_date(birth_date: str | None) -> str:
    if birth_date is None:
        return ""
    if not isinstance(birth_date, str) or _DATE_RE.fullmatch(birth_date) is None:
        raise InvalidIdentity("bad_date", "'birth_date' must be written YYYY-MM-DD.")
    try:
        dt.date.fromisoformat(birth_date)
    except ValueError:
        raise InvalidIdentity("bad_date", "'birth_date' is not a calendar date.") from None
    return birth_date


class BlindIndex:
    """HMAC-SHA256 tokens over normalised names, under a 32-byte secret key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != BLIND_INDEX_KEY_BYTES:
            raise ValueError("A blind-index key is exactly 32 bytes.")
        self._key = key

    def __repr__(self) -> str:
        return "BlindIndex(<key hidden>)"

    def _normalised(self, full_name: str) -> bytes:
        normal = normalise_name(full_name)
        if not normal:
            raise InvalidIdentity("unsearchable_name", "'full_name' has no letters or digits.")
        return normal.encode("utf-8")

    def token(self, full_name: str, birth_date: str | None) -> str:
        """Match token of a name and an ISO birth date (``None`` when unknown)."""
        message = (
            self._normalised(full_name)
            + b"\x00"
            + _canonical_birth_date(birth_date).encode("ascii")
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def name_token(self, full_name: str) -> str:
        """Name-only token, for searching without a birth date."""
        return hmac.new(self._key, self._normalised(full_name), hashlib.sha256).hexdigest()
