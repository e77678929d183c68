"""Each fusion layer against a reference computed by hand in NumPy on a tiny input."""

import keras
import numpy as np
import pytest

from mmzoo.fusion import (
    AttentionFusion,
    ConcatFusion,
    CrossModalTransformerFusion,
    GatedFusion,
    LowRankFusion,
    TensorFusion,
    WeightedSumFusion,
    get_fusion,
    list_fusions,
    masked_softmax,
)

RNG = np.random.default_rng(0)
X = [RNG.normal(size=(3, 2)).astype("float32"), RNG.normal(size=(3, 4)).astype("float32"),
     RNG.normal(size=(3, 3)).astype("float32")]
PRESENCE = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 0]], "float32")


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def randomize(layer, inputs, presence=None):
    """Build ``layer`` and give every weight random values (not the initializer's)."""
    layer(inputs, presence=presence)
    layer.set_weights([RNG.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def dense(layer, x):
    kernel, bias = (numpy(w) for w in layer.weights)
    return x @ kernel + bias


def masked_reference_softmax(scores, presence):
    """Softmax over present entries; uniform where nothing is present."""
    scores = np.where(presence > 0.5, scores, -np.inf)
    none = ~np.isfinite(scores).any(axis=-1, keepdims=True)
    return softmax(np.where(none, 0.0, scores))


def test_concat_is_concatenation():
    np.testing.assert_array_equal(numpy(ConcatFusion()(X)), np.concatenate(X, axis=1))


def test_tensor_fusion_is_the_flattened_outer_product_of_one_extended_embeddings():
    ext = [np.concatenate([np.ones((3, 1)), x], axis=1) for x in X]
    expected = np.einsum("bi,bj,bk->bijk", *ext).reshape(3, -1)
    np.testing.assert_allclose(numpy(TensorFusion()(X)), expected, rtol=1e-5)
    assert TensorFusion()(X).shape == (3, 3 * 5 * 4)


def test_low_rank_fusion_equals_a_dense_layer_on_tensor_fusion_with_the_rank_r_weight():
    layer = randomize(LowRankFusion(units=5, rank=3), X)
    factors = [numpy(w) for w in layer.factors]
    rank_weights, bias = numpy(layer.rank_weights), numpy(layer.bias)
    # The full TFN weight tensor W[i, j, k, u] = sum_r w_r A_r[i, u] B_r[j, u] C_r[k, u].
    full = np.einsum("r,riu,rju,rku->ijku", rank_weights, *factors).reshape(-1, 5)
    expected = numpy(TensorFusion()(X)) @ full + bias
    np.testing.assert_allclose(numpy(layer(X)), expected, rtol=1e-4, atol=1e-4)


def test_weighted_sum_uses_softmax_weights_over_present_modalities():
    layer = randomize(WeightedSumFusion(units=4, return_weights=True), X, PRESENCE)
    fused, weights = (numpy(t) for t in layer(X, presence=PRESENCE))
    projected = np.stack([dense(p, x) for p, x in zip(layer.projections, X)], axis=1)
    logits = np.broadcast_to(numpy(layer.modality_logits), (3, 3))
    expected_weights = masked_reference_softmax(logits, PRESENCE)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-5)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert weights[1, 1] == 0.0  # the absent modality gets no weight
    np.testing.assert_allclose(fused, (projected * expected_weights[..., None]).sum(1), rtol=1e-5,
                               atol=1e-6)


def test_gated_fusion_of_two_modalities_is_the_gmu_sigmoid_gate():
    """Arevalo et al.: h = z * tanh(W_v x_v) + (1 - z) * tanh(W_t x_t), z = sigmoid(W_z [x_v; x_t])."""
    pair = X[:2]
    layer = randomize(GatedFusion(units=3, return_weights=True), pair)
    fused, weights = (numpy(t) for t in layer(pair))
    h_v, h_t = (np.tanh(dense(p, x)) for p, x in zip(layer.projections, pair))
    gate_scores = dense(layer.gate, np.concatenate(pair, axis=1)).reshape(3, 2, 3)
    z = 1.0 / (1.0 + np.exp(-(gate_scores[:, 0] - gate_scores[:, 1])))
    np.testing.assert_allclose(fused, z * h_v + (1 - z) * h_t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weights, np.stack([z.mean(1), (1 - z).mean(1)], 1), rtol=1e-5)


def test_gated_fusion_gives_absent_modalities_zero_gate():
    layer = randomize(GatedFusion(units=3, return_weights=True), X, PRESENCE)
    _, weights = (numpy(t) for t in layer(X, presence=PRESENCE))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert weights[1, 1] == 0.0


def test_attention_fusion_matches_its_formula():
    """alpha_i = softmax_i(u_i^T W_a phi), u_i = tanh(W_i x_i + b_i), output sum_i alpha_i u_i."""
    layer = randomize(AttentionFusion(units=4, return_weights=True), X, PRESENCE)
    fused, alpha = (numpy(t) for t in layer(X, presence=PRESENCE))
    u = np.stack([np.tanh(dense(p, x)) for p, x in zip(layer.projections, X)], axis=1)
    scores = u @ (numpy(layer.attention_matrix) @ numpy(layer.context))
    expected_alpha = masked_reference_softmax(scores, PRESENCE)
    np.testing.assert_allclose(alpha, expected_alpha, rtol=1e-5)
    np.testing.assert_allclose(fused, (u * expected_alpha[..., None]).sum(1), rtol=1e-5, atol=1e-6)


def layer_norm(x, gamma, beta, epsilon=1e-6):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def reference_transformer_block(block, x, key_mask):
    """One pre-norm Transformer encoder block, written out in NumPy."""
    attention = block.attention
    wq, bq = numpy(attention._query_dense.kernel), numpy(attention._query_dense.bias)
    wk, bk = numpy(attention._key_dense.kernel), numpy(attention._key_dense.bias)
    wv, bv = numpy(attention._value_dense.kernel), numpy(attention._value_dense.bias)
    wo, bo = numpy(attention._output_dense.kernel), numpy(attention._output_dense.bias)
    h = layer_norm(x, *(numpy(w) for w in block.attention_norm.weights))
    q = np.einsum("btd,dhk->bthk", h, wq) + bq
    k = np.einsum("btd,dhk->bthk", h, wk) + bk
    v = np.einsum("btd,dhk->bthk", h, wv) + bv
    scores = np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(key_mask[:, None, None, :] > 0.5, scores, -1e9)
    attended = np.einsum("bhqs,bshk->bqhk", softmax(scores), v)
    x = x + np.einsum("bqhk,hkd->bqd", attended, wo) + bo
    f = layer_norm(x, *(numpy(w) for w in block.feedforward_norm.weights))
    f = gelu(dense(block.feedforward_in, f))
    return x + dense(block.feedforward_out, f)


def test_cross_modal_transformer_matches_a_numpy_transformer_over_modality_tokens():
    layer = randomize(CrossModalTransformerFusion(units=4, num_heads=2, num_layers=2), X, PRESENCE)
    tokens = np.stack([dense(p, x) for p, x in zip(layer.projections, X)], axis=1)
    tokens = tokens + numpy(layer.modality_embeddings)
    cls = np.broadcast_to(numpy(layer.cls_token), (3, 1, 4))
    x = np.concatenate([cls, tokens], axis=1)
    key_mask = np.concatenate([np.ones((3, 1)), PRESENCE], axis=1)
    for block in layer.blocks:
        x = reference_transformer_block(block, x, key_mask)
    expected = layer_norm(x[:, 0], *(numpy(w) for w in layer.output_norm.weights))
    np.testing.assert_allclose(numpy(layer(X, presence=PRESENCE)), expected, rtol=1e-4, atol=1e-4)


def test_masked_softmax_is_uniform_when_nothing_is_present():
    weights = numpy(masked_softmax(np.array([[3.0, -1.0]]), np.array([[0.0, 0.0]])))
    np.testing.assert_allclose(weights, [[0.5, 0.5]])


@pytest.mark.parametrize("name", list_fusions())
def test_every_fusion_takes_a_single_modality(name):
    options = {} if name in ("concat", "tensor") else {"units": 4}
    out = get_fusion(name, **options)([X[0]], presence=PRESENCE[:, :1])
    assert out.shape[0] == 3 and np.isfinite(numpy(out)).all()


@pytest.mark.parametrize("name", list_fusions())
def test_every_fusion_layer_round_trips_its_config(name):
    options = {} if name in ("concat", "tensor") else {"units": 4}
    layer = get_fusion(name, **options)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_return_weights_is_refused_where_no_weights_exist():
    with pytest.raises(ValueError, match="computes no modality weights"):
        ConcatFusion(return_weights=True)


def test_unknown_fusion_name_lists_the_allowed_values():
    with pytest.raises(ValueError, match=r"fusion='sum' is unknown; choose one of \['attention'"):
        get_fusion("sum")
