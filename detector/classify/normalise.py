"""Text normalisation before embedding: the same post written twice normalises to the same string.

Links, @handles, picture links and HTML entities carry no meaning for the heads but make every retweet
look new to the cache; emoji that carry tone (anger, eye-rolls, laughing) become words the English model
understands, the rest are dropped because MiniLM's vocabulary maps them all to one unknown token.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

MAX_CHARS = 1_000  # MiniLM reads 256 word pieces; longer text only costs tokenizer time

_URL = re.compile(r"(https?://|www\.)\S+|pic\.twitter\.com/\S+|\b\S+\.(com|org|net|io|xyz)/\S*", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w{1,30}")
_RETWEET = re.compile(r"^RT\s+@user:?\s*")
_REPEAT = re.compile(r"([!?.])\1{2,}")
_LONG_LETTERS = re.compile(r"(\w)\1{3,}")
_SPACES = re.compile(r"\s+")

# Emoji whose meaning matters for complaints and sarcasm; everything else in the symbol planes is dropped.
EMOJI_WORDS = {
    "😡": "angry", "🤬": "furious", "😠": "angry", "😤": "frustrated", "🙄": "eye roll", "😒": "annoyed",
    "😭": "crying", "😢": "sad", "😩": "weary", "😫": "tired", "😞": "disappointed", "😔": "sad",
    "🤦": "facepalm", "🙃": "sarcastic", "😑": "unimpressed", "😐": "unimpressed", "💀": "dead",
    "😂": "laughing", "🤣": "laughing", "😅": "nervous laugh", "😆": "laughing", "😊": "happy",
    "😍": "love", "❤": "love", "👍": "thumbs up", "👎": "thumbs down", "👏": "clapping", "🙏": "please",
    "🔥": "fire", "💯": "hundred", "😬": "awkward", "🤔": "thinking", "😱": "shocked", "🚨": "alert",
}


def normalise_text(text: str | None) -> str:
    """Return the text with links, handles, emoji and whitespace made uniform ('' for no text)."""
    if not text:
        return ""
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub("@user", text)
    text = _RETWEET.sub("", text)
    text = _emoji_to_words(text)
    text = _REPEAT.sub(r"\1\1", text)
    text = _LONG_LETTERS.sub(r"\1\1\1", text)
    text = _SPACES.sub(" ", text).strip()
    # A post that is only handles says nothing.
    if not text.replace("@user", "").strip(" .,:;!?"):
        return ""
    return text[:MAX_CHARS]


def text_key(normalised: str) -> str:
    """The cache key of a normalised text: equal texts share one embedding."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()


# Every character an emoji word or a dropped symbol can come from lies at U+2000 or above (``_is_symbol``
# and EMOJI_WORDS' keys); the text between such characters is kept as it is and resets the collapsing of
# repeated emoji, so only the runs of high characters need the per-character rules.
_LOWEST_SPECIAL = min(0x2000, *(ord(key) for key in EMOJI_WORDS if len(key) == 1))
_HIGH_RUN = re.compile(f"[\\u{_LOWEST_SPECIAL:04x}-\\U0010ffff]+")


def _emoji_to_words(text: str) -> str:
    """Emoji that carry tone as words, other symbols dropped (``_emoji_run`` on each run of characters
    from U+2000 up; most posts have none or a curly quote, and a Python step per character was half of
    normalising)."""
    return _HIGH_RUN.sub(lambda match: _emoji_run(match.group()), text)


def _emoji_run(text: str) -> str:
    out: list[str] = []
    previous = ""
    for char in text:
        word = EMOJI_WORDS.get(char)
        if word is not None:
            if word != previous:  # "😡😡😡😡" says "angry" once
                out.append(f" {word} ")
            previous = word
            continue
        if _is_symbol(char):
            continue
        previous = ""
        out.append(char)
    return "".join(out)


def _is_symbol(char: str) -> bool:
    code = ord(char)
    if code < 0x2000:
        return False
    if 0xFE00 <= code <= 0xFE0F or code == 0x200D or 0x1F3FB <= code <= 0x1F3FF:
        return True  # variation selectors, zero-width joiner, skin tones
    category = unicodedata.category(char)
    return category == "So" or (code >= 0x1F000 and category.startswith(("S", "C")))
