"""BERT's WordPiece tokenization in core TensorFlow ops (no TF Text, no py_function).

It reproduces the Hugging Face ``tokenizers`` pipeline of BERT models (all-MiniLM-L6-v2's
``tokenizer.json``, uncased): the special tokens written in the text
(``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``, ``[MASK]``, matched case-sensitively) are kept
whole; ``BertNormalizer`` drops NUL, U+FFFD and control characters, turns whitespace into
spaces, surrounds CJK ideographs with spaces and, uncased, decomposes (NFD), drops
nonspacing marks and lowercases; ``BertPreTokenizer`` splits on whitespace and makes each punctuation
character a word; ``WordPiece`` splits each word greedily, longest match first, later
pieces prefixed by ``##``, into ``[UNK]`` when a part has no match or the word is longer
than 100 characters. Ids are then ``[CLS] pieces [SEP]`` padded with ``[PAD]``.

How it maps to TF ops: every normalization step acts on one code point at a time, so
one lookup table from code point to its normalized, pre-tokenized replacement (built
here from :mod:`unicodedata`, once per process) does them all; WordPiece looks every
substring of every word (up to the longest token's length) up in the vocabulary at once,
then follows the greedy longest-match chain in a bounded ``tf.while_loop``.

Invalid UTF-8 bytes count as U+FFFD (which the normalizer drops). Unicode data: Python's
:mod:`unicodedata` (Unicode 14.0 in Python 3.11); ``tokenizers`` uses older tables for
categories and newer ones for lowercasing, so characters whose Unicode data changed between
those versions (454 rare code points, e.g. nonspacing marks newer than the reference's
tables) are normalized differently: see ``docs/guides/backbones-text.md``.

Example:
    >>> tokenizer = WordPiece(("[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "cat", "##s"))
    >>> tokenizer.ids(tf.constant(["A cats!"]), sequence_length=7).numpy().tolist()
    [[2, 4, 5, 6, 1, 3, 0]]
"""

from __future__ import annotations

import functools
import string
import unicodedata

import numpy as np
import tensorflow as tf

#: The tokens BERT's tokenizer keeps whole where the text holds them (those in the vocabulary).
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: The special tokens the ids need.
REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
#: Words longer than this (in characters) become ``[UNK]``.
MAX_WORD_CHARS = 100
#: The prefix of a piece that continues a word.
CONTINUATION = "##"

# CJK ideographs as BERT defines them (``tokenizers``' is_chinese_char, 0x2B920 included);
# the compatibility ideographs (F900-FAFF, 2F800-2FA1F) decompose, so the table holds them.
_UNIFIED_CJK = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
                (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF))
_COMPATIBILITY_CJK = ((0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
# The private use areas (category Co, fixed by the standard): control characters to BERT.
_PRIVATE_USE = ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))
# Rust's char::is_whitespace (the White_Space property), which ``tokenizers`` uses.
_WHITESPACE = frozenset([0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                         0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
# Planes 4 to 13 hold no character.
_UNASSIGNED_PLANES = ((0x40000, 0xDFFFF),)
# Marks a special token found in the text: U+FFFD never survives to the table (the text's
# own U+FFFD become NUL first, and both are dropped), so "\ufffd<i>" is no word of the text.
_MARKER = "\ufffd"
# The table's "no entry" value: invalid UTF-8, so no replacement can equal it.
_UNCHANGED = b"\xff"


def _in(ranges, code_point: int) -> bool:
    return any(low <= code_point <= high for low, high in ranges)


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf", "Co")


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def normalized_char(char: str, lowercase: bool = True) -> str:
    """One character as ``BertNormalizer`` and ``BertPreTokenizer`` leave it: words separated
    by spaces, each punctuation character a word ("" when dropped). ``lowercase``: uncased
    (``strip_accents`` follows it, as in ``tokenizers`` when not set), else cased.

    Example:
        >>> [normalized_char(c) for c in "É,\\x00中"], normalized_char("É", lowercase=False)
        (['e', ' , ', '', ' 中 '], 'É')
    """
    code_point = ord(char)
    if code_point in (0, 0xFFFD) or _is_control(char):
        return ""
    if code_point in _WHITESPACE:
        return " "
    text = f" {char} " if _in(_UNIFIED_CJK + _COMPATIBILITY_CJK, code_point) else char
    if lowercase:
        text = "".join(c for c in unicodedata.normalize("NFD", text)
                       if unicodedata.category(c) != "Mn").lower()
    return "".join(f" {c} " if _is_punctuation(c) else " " if c.isspace() else c for c in text)


@functools.cache
def normalization_table(lowercase: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The code points :func:`normalized_char` changes (int64) and their replacements
    (UTF-8 bytes), but those the TF code handles itself (unified CJK ideographs, private
    use) and U+FFFD (the special-token marker). Built once per process (~0.3 s)."""
    keys, values = [], []
    skipped = sorted(_UNIFIED_CJK + _PRIVATE_USE + _UNASSIGNED_PLANES
                     + ((0xD800, 0xDFFF), (0xFFFD, 0xFFFD), (0x110000, 0x110000)))
    low = 0
    for skip_low, skip_high in skipped:
        for code_point in range(low, skip_low):
            char = chr(code_point)
            if unicodedata.category(char) == "Cn" and code_point not in _WHITESPACE:
                continue  # unassigned: unchanged
            replacement = normalized_char(char, lowercase)
            if replacement != char:
                keys.append(code_point)
                values.append(replacement.encode("utf-8"))
        low = max(low, skip_high + 1)
    return np.asarray(keys, np.int64), np.asarray(values, object)


def _in_ranges(code_points, ranges):
    inside = tf.zeros_like(code_points, tf.bool)
    for low, high in ranges:
        inside |= (code_points >= low) & (code_points <= high)
    return inside


def check_vocabulary(vocabulary) -> tuple[str, ...]:
    """``vocabulary`` as a tuple of unique tokens holding :data:`REQUIRED_TOKENS`; a
    ValueError naming ``TextSpec.vocabulary`` otherwise."""
    vocabulary = tuple(str(token) for token in vocabulary)
    missing = [token for token in REQUIRED_TOKENS if token not in vocabulary]
    if missing:
        raise ValueError(f"TextSpec.vocabulary lacks the WordPiece tokens {missing}: a BERT "
                         "vocabulary (vocab.txt, one token a line, id = line number) holds them.")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("TextSpec.vocabulary holds a token twice: each token needs one id.")
    return vocabulary


class WordPiece(tf.Module):
    """The tables and TF ops of BERT uncased tokenization with one vocabulary (a
    ``tf.Module``: a SavedModel holding it holds its lookup tables).

    Args:
        vocabulary: the tokens, position ``i`` holding the token of id ``i``; it needs
            ``[PAD]``, ``[UNK]``, ``[CLS]`` and ``[SEP]``.
        lowercase: uncased BERT (lowercase, accents stripped), else cased.

    Create it eagerly (its lookup tables are TF resources that a tf.function, a
    ``tf.data`` map or a SavedModel then captures).
    """

    def __init__(self, vocabulary, lowercase: bool = True, name: str = "wordpiece"):
        super().__init__(name=name)
        vocabulary = check_vocabulary(vocabulary)
        self.ids_of = {token: i for i, token in enumerate(vocabulary)}
        specials = [(f"{_MARKER}{i}", token) for i, token in enumerate(SPECIAL_TOKENS)
                    if token in self.ids_of]
        # (escaped token, marker word) of each special token the text may hold
        self.specials = [(token.replace("[", r"\[").replace("]", r"\]"), marker)
                         for marker, token in specials]
        keys = list(vocabulary) + [marker for marker, _ in specials]
        ids = list(range(len(vocabulary))) + [self.ids_of[token] for _, token in specials]
        self.vocabulary = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(ids, tf.int64)),
            default_value=-1)
        self.longest = max(len(token.removeprefix(CONTINUATION)) for token in keys)
        code_points, replacements = normalization_table(lowercase)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(code_points, replacements), _UNCHANGED)

    def words(self, strings):
        """Strings (any shape) to their normalized, pre-tokenized text: words separated by
        spaces, a special token in the text as a marker word.

        Example:
            >>> WordPiece(("[PAD]", "[UNK]", "[CLS]", "[SEP]")).words(tf.constant(["Héllo,World"])).numpy()
            array([b'hello , world'], dtype=object)
        """
        strings = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace",
                                               replacement_char=0)
        strings = tf.strings.regex_replace(strings, _MARKER, "\x00")
        for pattern, marker in self.specials:
            strings = tf.strings.regex_replace(strings, pattern, f" {marker} ")
        code_points = tf.strings.unicode_decode(strings, "UTF-8")
        flat = tf.cast(code_points.flat_values, tf.int64)
        chars = tf.strings.unicode_encode(tf.cast(flat[:, None], tf.int32), "UTF-8")
        replaced = self.table.lookup(flat)
        replaced = tf.where(replaced == _UNCHANGED, chars, replaced)
        replaced = tf.where(_in_ranges(flat, _UNIFIED_CJK), " " + chars + " ", replaced)
        replaced = tf.where(_in_ranges(flat, _PRIVATE_USE), "", replaced)
        return tf.strings.reduce_join(code_points.with_flat_values(replaced), axis=-1)

    def pieces(self, words):
        """A rank-1 tensor of words (no spaces) to their WordPiece ids, a RaggedTensor
        ``(words, pieces)``."""
        lengths = tf.strings.length(words, unit="UTF8_CHAR")
        too_long = lengths > MAX_WORD_CHARS
        # each word's start positions (one for a word too long: its [UNK])
        starts_per_word = tf.where(too_long, 1, lengths)
        position_word = tf.repeat(tf.range(tf.size(words)), starts_per_word)
        position_start = tf.ragged.range(starts_per_word).flat_values
        positions = tf.size(position_start)
        # every substring that may be a token: lengths 1 .. min(longest, rest of the word)
        word_length = tf.gather(tf.where(too_long, 0, lengths), position_word)
        candidates = tf.maximum(tf.minimum(self.longest, word_length - position_start), 0)
        # the longest candidate at each position, then its prefixes (copies of <= longest chars)
        windows = tf.strings.substr(tf.gather(words, position_word), position_start, candidates,
                                    unit="UTF8_CHAR")
        candidate_position = tf.repeat(tf.range(positions), candidates)
        candidate_length = tf.ragged.range(candidates).flat_values + 1
        substrings = tf.strings.substr(tf.gather(windows, candidate_position),
                                       tf.zeros_like(candidate_length), candidate_length,
                                       unit="UTF8_CHAR")
        keys = tf.where(tf.gather(position_start, candidate_position) > 0,
                        CONTINUATION + substrings, substrings)
        ids = self.vocabulary.lookup(keys)
        # the longest match at each position: (length << 32 | id), maximized per position
        scores = tf.where(ids >= 0, tf.cast(candidate_length, tf.int64) * 2**32 + ids, -1)
        best = tf.math.unsorted_segment_max(scores, candidate_position, positions)
        best_length = tf.cast(tf.where(best > 0, best // 2**32, 0), tf.int32)
        best_id = best % 2**32
        chain, bad = self._greedy_chain(best_length, starts_per_word)
        position_bad = tf.gather(bad, position_word)
        emitted = (chain & ~position_bad) | ((position_start == 0) & position_bad)
        piece_ids = tf.where(position_bad, tf.cast(self.ids_of["[UNK]"], tf.int64), best_id)
        return tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(piece_ids, emitted), tf.boolean_mask(position_word, emitted),
            nrows=tf.size(words, out_type=tf.int32))

    @staticmethod
    def _greedy_chain(best_length, starts_per_word):
        """Which positions the greedy longest-match pass starts a piece at, and which words
        fail (a position with no match on their chain)."""
        offsets = tf.cumsum(starts_per_word, exclusive=True)
        last = tf.maximum(tf.size(best_length) - 1, 0)

        def step(position, active, bad, chain):
            index = tf.minimum(offsets + position, last)
            length = tf.where(active, tf.gather(best_length, index), 0)
            bad |= active & (length == 0)
            moving = active & (length > 0)
            chain = tf.tensor_scatter_nd_update(
                chain, tf.boolean_mask(index, moving)[:, None],
                tf.ones(tf.math.count_nonzero(moving, dtype=tf.int32), tf.bool))
            position += length
            return position, moving & (position < starts_per_word), bad, chain

        start = (tf.zeros_like(starts_per_word), starts_per_word > 0,
                 tf.zeros_like(starts_per_word, tf.bool), tf.zeros_like(best_length, tf.bool))
        _, _, bad, chain = tf.while_loop(lambda _, active, *rest: tf.reduce_any(active), step,
                                         start, maximum_iterations=MAX_WORD_CHARS)
        return chain, bad

    def ids(self, strings, sequence_length: int):
        """A rank-1 tensor of strings to int32 ids ``(batch, sequence_length)``: ``[CLS]``,
        the first ``sequence_length - 2`` pieces, ``[SEP]``, then ``[PAD]``. Only the words
        that may give those pieces (each gives at least one) are split: the cost of a long
        text is its normalization, linear in its length."""
        words = tf.strings.split(self.words(strings))[:, :sequence_length - 2]
        pieces = self.pieces(words.flat_values)
        tokens = tf.RaggedTensor.from_row_splits(pieces.values, tf.gather(
            pieces.row_splits, words.row_splits))[:, :sequence_length - 2]
        rows = tokens.nrows()
        column = tf.ones((rows, 1), tf.int64)
        tokens = tf.concat([column * self.ids_of["[CLS]"], tokens,
                            column * self.ids_of["[SEP]"]], axis=1)
        return tf.cast(tokens.to_tensor(self.ids_of["[PAD]"],
                                        shape=[None, sequence_length]), tf.int32)
