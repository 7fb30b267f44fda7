"""Blind index: name normalisation (Cyrillic and Latin spellings meet) and HMAC tokens."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consent._blindindex import BlindIndex, normalise_name
from consent._errors import InvalidIdentity

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

# Each group: spellings of one name that must meet, with the normal form they meet at.
MEETING: list[tuple[str, list[str]]] = [
    ("kagarlitsky", ["Кагарлицкий", "Kagarlitsky", "Kagarlitskiy", "Kagarlitskii",
                     "Kagarlickij", "Kagarlitzky", "KAGARLITSKY", "кагарлицкий"]),
    ("navalny", ["Навальный", "Navalny", "Navalnyy", "Naval'nyy", "Naval’nyy", "Navalnyj",
                 "Navalnyi", "Nawalny", "Naval'nyj", "Navalʹnyj"]),
    ("yashin", ["Яшин", "Yashin", "Iashin", "Jašin", "Jashin"]),
    ("gorinov", ["Горинов", "Gorinov", "GORINOV"]),
    ("kara murza", ["Кара-Мурза", "Kara-Murza", "Kara Murza", "  kara   murza ",
                    "Kara–Murza", "Kara_Murza", "kara-murza"]),
    ("lesha", ["Лёша", "Леша", "Lesha", "Lyosha", "Liosha", "Ljoša"]),
    ("yulya", ["Юлия", "Yulia", "Yuliya", "Iuliia", "Julija", "Julia"]),
    ("alexandr", ["Александр", "Aleksandr", "Alexandr"]),
    ("shchukin", ["Щукин", "Shchukin", "Schukin", "Shtchukin", "Ŝukin", "Ščukin"]),
    ("zelensky", ["Зеленський", "Zelenskyy", "Zelensky", "Zelenskiy", "Zelenskyi"]),
    ("evgeny", ["Евгений", "Yevgeny", "Evgeny", "Evgenii", "Yevgeniy", "Jevgenij", "Evgeni"]),
    ("alexey", ["Алексей", "Alexei", "Aleksei", "Alexey", "Aleksey", "Aleksej", "Alexeï"]),
    ("dmitry", ["Дмитрий", "Dmitry", "Dmitri", "Dmitrii", "Dmitriy", "Dmitrij"]),
    ("mihayl", ["Михаил", "Mikhail", "Mihail"]),
    ("fedor", ["Фёдор", "Федор", "Fyodor", "Fedor", "Fiodor", "Fëdor"]),
    ("petr", ["Пётр", "Pyotr", "Petr", "Piotr"]),
    ("semen", ["Семён", "Semyon", "Semen", "Semion"]),
    ("ilya", ["Илья", "Ilya", "Ilia", "Il'ya", "Ilja"]),
    ("ilin", ["Ильин", "Ilyin", "Ilin", "Il'in"]),
    ("xenya", ["Ксения", "Ksenia", "Kseniya", "Xenia", "Kseniia"]),
    ("solovev", ["Соловьёв", "Solovyov", "Solovyev", "Soloviev", "Solov'ev", "Solov'yov"]),
    ("tsoy", ["Цой", "Tsoi", "Tsoy", "Coj"]),
    ("zhukov", ["Жуков", "Zhukov", "Žukov"]),
    ("gaydar", ["Гайдар", "Gaidar", "Gaydar", "Gajdar"]),
    ("tatyana", ["Татьяна", "Tatiana", "Tatyana", "Tat'yana", "Tat'jana"]),
    ("andrev", ["Андреев", "Andreev", "Andreyev", "Andreiev"]),
    ("yury", ["Юрий", "Yuri", "Yury", "Yuriy", "Iurii", "Jurij"]),
    ("chichvarkin", ["Чичваркин", "Chichvarkin", "Tchitchvarkin", "Čičvarkin"]),
    ("nikolay", ["Николай", "Nikolai", "Nikolay", "Nikolaj"]),
    ("olga", ["Ольга", "Olga", "Ol'ga"]),
    ("habarov", ["Хабаров", "Khabarov", "Habarov"]),
    ("lukashenka", ["Лукашэнка", "Lukashenka"]),
    ("tsihanouskaya", ["Ціханоўская", "Tsikhanouskaya", "Tsihanouskaya"]),
    ("olexy", ["Олексій", "Oleksiy", "Oleksii", "Oleksij"]),
    ("mayorov", ["Майоров", "Mayorov", "Maiorov"]),
    ("podyachev", ["Подъячев", "Pod''yachev", "Podyachev", "Podʺjačev"]),
    ("marya", ["Мария", "Maria", "Mariya", "Marija"]),
    ("vladimir", ["Владимир", "Vladimir", "Wladimir"]),
    ("vasilev", ["Васильев", "Vasilyev", "Vasiliev", "Vasil'ev"]),
    ("sergevich", ["Сергеевич", "Sergeevich", "Sergeyevich"]),
    ("ilya yashin", ["Илья Яшин", "Ilya Yashin", "ILIA  IASHIN"]),
    ("vladimir kara murza", ["Владимир Кара-Мурза", "Vladimir Kara-Murza",
                             "Vladimir, Kara Murza."]),
    ("alexey gorinov", ["Алексей Горинов", "Aleksei Gorinov"]),
    ("navalnaya", ["Навальная", "Navalnaya", "Naval'naya"]),
]  # fmt: skip

# Pairs documented as NOT meeting: other name forms or transliteration conventions.
NOT_MEETING = [
    ("Alexander", "Александр"),  # another form of the name
    ("Peter", "Пётр"),
    ("Horinov", "Горинов"),  # Ukrainian г written h
    ("Kagarlizki", "Кагарлицкий"),  # German z = ц
    ("Michail", "Михаил"),  # German ch = х
    ("Jaschin", "Яшин"),  # German sch = ш
    ("Djemilev", "Джемилев"),  # French-style dj = дж
    ("KaraMurza", "Кара-Мурза"),  # words joined differently
]

# Different people (or different name forms) that must stay apart.
DIFFERENT = [
    ("Иванов", "Иванова"),
    ("Яшин", "Ящин"),
    ("Навальный", "Навальная"),
    ("Шукин", "Щукин"),
    ("Горинов", "Гаринов"),
    ("Ivan Petrov", "Petr Ivanov"),
    ("Ivan Petrov", "Petrov Ivan"),  # word order is kept
    ("Кара-Мурза", "Кара"),
    ("Zhukov", "Zukov"),
    ("Tsoy", "Soy"),
]


@pytest.mark.parametrize(("normal", "spellings"), MEETING, ids=[m[0] for m in MEETING])
def test_spellings_meet(normal: str, spellings: list[str]) -> None:
    assert {s: normalise_name(s) for s in spellings} == {s: normal for s in spellings}


def test_design_triple_meets_in_the_index() -> None:
    index = BlindIndex(KEY)
    triple = ["Кагарлицкий", "Kagarlitsky", "Kagarlitskiy"]
    assert len({index.name_token(n) for n in triple}) == 1
    assert len({index.token(n, "1956-08-29") for n in triple}) == 1
    assert len({index.token(n, None) for n in triple}) == 1


@pytest.mark.parametrize(("latin", "cyrillic"), NOT_MEETING)
def test_documented_non_meetings(latin: str, cyrillic: str) -> None:
    assert normalise_name(latin) != normalise_name(cyrillic)


@pytest.mark.parametrize(("one", "two"), DIFFERENT)
def test_different_names_stay_apart(one: str, two: str) -> None:
    assert normalise_name(one) != normalise_name(two)
    assert BlindIndex(KEY).name_token(one) != BlindIndex(KEY).name_token(two)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Ivan\t\nPetrov  ", "ivan petrov"),
        ("Ivan---Petrov", "ivan petrov"),
        ("O'Brien", "obren"),  # apostrophes join, they do not split; ie = е
        ("Émile Zola", "emile zola"),
        ("ﬁlip", "filip"),  # compatibility ligature
        ("Ｉｖａｎ", "ivan"),  # full width
        ("Straße", "strase"),  # ß → ss → s (doubles collapse)
        ("Иван 2-й", "ivan 2 y"),
        ("", ""),
        ("!!! ...", ""),
        ("李小龍", "李小龍"),  # other scripts pass through
    ],
)
def test_normal_forms(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


def _is_normal_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch == " " or category[0] in "LN" or category == "Mc"


any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
cyrillic_and_latin = st.text(
    alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяєіїґўABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
    "qrstuvwxyz'’ -.šžčŝéëïÿ",
    max_size=30,
)


@given(name=st.one_of(any_text, st.text(max_size=40), cyrillic_and_latin))
@example(name="\ud800 lone surrogate")
@example(name="ς Σ ǅ ǈ ﬀ ᏸ ꭰ İ")
@example(name="yyiijj iyji jy yo ye tch shtch kks")
def test_normalise_is_total_and_idempotent(name: str) -> None:
    once = normalise_name(name)
    assert normalise_name(once) == once
    assert once == once.strip() and "  " not in once
    assert all(_is_normal_char(ch) for ch in once)
    assert not any("\u0400" <= ch <= "\u04ff" for ch in once)  # no Cyrillic left


@given(name=cyrillic_and_latin)
def test_normal_form_of_cyrillic_and_latin_is_ascii(name: str) -> None:
    assert normalise_name(name).isascii()


# -- the index -------------------------------------------------------------------------------


def test_token_formula() -> None:
    index = BlindIndex(KEY)
    expected = hmac.new(KEY, b"kagarlitsky\x001956-08-29", hashlib.sha256).hexdigest()
    assert index.token("Кагарлицкий", "1956-08-29") == expected
    no_date = hmac.new(KEY, b"kagarlitsky\x00", hashlib.sha256).hexdigest()
    assert index.token("Kagarlitskiy", None) == no_date
    name_only = hmac.new(KEY, b"kagarlitsky", hashlib.sha256).hexdigest()
    assert index.name_token("Kagarlitsky") == name_only


def test_tokens_separate_dates_and_kinds() -> None:
    index = BlindIndex(KEY)
    tokens = {
        index.token("Ilya Yashin", "1983-06-29"),
        index.token("Ilya Yashin", "1983-06-30"),
        index.token("Ilya Yashin", None),
        index.name_token("Ilya Yashin"),
    }
    assert len(tokens) == 4
    assert all(len(t) == 64 and int(t, 16) >= 0 for t in tokens)


def test_different_keys_give_different_tokens() -> None:
    one, two = BlindIndex(KEY), BlindIndex(OTHER_KEY)
    assert one.token("Яшин", "1983-06-29") != two.token("Яшин", "1983-06-29")
    assert one.name_token("Яшин") != two.name_token("Яшин")


@given(name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=20))
def test_tokens_are_deterministic(name: str) -> None:
    if not normalise_name(name):
        return
    assert BlindIndex(KEY).name_token(name) == BlindIndex(KEY).name_token(name)
    assert BlindIndex(KEY).name_token(name) != BlindIndex(OTHER_KEY).name_token(name)


@pytest.mark.parametrize("bad", ["1983-6-29", "29.06.1983", "19830629", "1983-02-30", "", " "])
def test_bad_birth_date_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        BlindIndex(KEY).token("Yashin", bad)
    assert caught.value.code == "bad_date"
    assert bad.strip() == "" or bad not in str(caught.value)


@pytest.mark.parametrize("name", ["", "   ", "---", "'''"])
def test_name_without_letters_is_refused(name: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        BlindIndex(KEY).name_token(name)
    assert caught.value.code == "unsearchable_name"
    with pytest.raises(InvalidIdentity):
        BlindIndex(KEY).token(name, "2000-01-01")


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(31), bytes(33)])
def test_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(ValueError):
        BlindIndex(key)


def test_repr_hides_key() -> None:
    assert KEY.hex()[:16] not in repr(BlindIndex(KEY))
    assert str(list(KEY[:4]))[1:-1] not in repr(BlindIndex(KEY))


def test_digits_are_not_squashed() -> None:
    assert normalise_name("Prisoner 11") != normalise_name("Prisoner 1")
    assert normalise_name("Anna") == normalise_name("Ana")
