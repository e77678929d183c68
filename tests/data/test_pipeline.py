import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.data import PreparedData, from_folder, make_dataset, prepare
from mmzoo.preprocessing import Preprocessor
from mmzoo.specs import ImageSpec, TextSpec


def batches(dataset):
    return list(dataset.as_numpy_iterator())


def test_prepared_records_give_the_raw_pipelines_examples(tiny, preprocessor):
    source = from_folder(tiny, first_line_only=True)
    raw = batches(make_dataset(source, preprocessor, batch_size=3))
    data = prepare(source, preprocessor, tiny / "prepared", num_shards=1)
    assert PreparedData.load(tiny / "prepared").class_names == source.class_names
    prepared_dataset = make_dataset(data, preprocessor, batch_size=3)
    assert prepared_dataset.element_spec == make_dataset(source, preprocessor, 3).element_spec
    (raw_features, raw_labels), = raw
    (features, labels), = batches(prepared_dataset)
    np.testing.assert_array_equal(labels, raw_labels)
    for key, value in raw_features.items():
        # Images are stored as uint8: within half a grey level of the float pixels.
        np.testing.assert_allclose(features[key], value, atol=0.5 if key == "image" else 1e-7)


def test_shuffle_augment_cache_and_static_batches(tiny, preprocessor):
    data = prepare(from_folder(tiny), preprocessor, tiny / "prepared", num_shards=2)
    dataset = make_dataset(data, preprocessor, batch_size=2, shuffle=True, augment=True,
                           cache=True, seed=1)
    assert dataset.element_spec[0]["image"].shape == (2, 8, 8, 3)
    epochs = [sorted(labels.tolist()) for _ in range(2) for _, labels in batches(dataset)]
    assert len(epochs) == 2 and all(len(e) == 2 for e in epochs)  # 3 examples: one dropped


def test_input_context_shards_per_replica(tiny, preprocessor):
    source = from_folder(tiny)
    data = prepare(source, preprocessor, tiny / "prepared", num_shards=2)
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        for dataset in (make_dataset(data, preprocessor, 2, input_context=context, drop_remainder=False),
                        make_dataset(source, preprocessor, 2, input_context=context, drop_remainder=False)):
            assert dataset.element_spec[1].shape.as_list() == [None]
            seen.append(sorted(int(x) for _, labels in batches(dataset) for x in labels))
    assert sorted(seen[0] + seen[2]) == sorted(seen[1] + seen[3]) == [0, 0, 1]


def test_a_spec_mismatch_with_prepared_data_is_explained(tiny, preprocessor):
    data = prepare(from_folder(tiny), preprocessor, tiny / "prepared", num_shards=1)
    other = Preprocessor(image=ImageSpec(16, 16, 3))
    with pytest.raises(ValueError, match="prepare it again"):
        make_dataset(data, other, 1)


def test_element_spec_feeds_a_zoo_model(tiny, preprocessor):
    source = from_folder(tiny, first_line_only=True)
    preprocessor = Preprocessor(text=TextSpec(vocabulary_size=30, sequence_length=5),
                                image=preprocessor.specs["image"],
                                audio=preprocessor.specs["audio"]).adapt(source.texts())
    data = prepare(source, preprocessor, tiny / "prepared", num_shards=1)
    model = mmzoo.create_model(mmzoo.list_models()[0], num_classes=len(source.class_names),
                               **preprocessor.specs)
    dataset = make_dataset(data, preprocessor, batch_size=2)
    features, label = dataset.element_spec
    inputs = {i.name: (tuple(i.shape[1:]), i.dtype) for i in model.inputs}
    assert {k: (tuple(v.shape[1:]), v.dtype.name) for k, v in features.items()} == inputs
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("prepared", [False, True], ids=["raw files", "prepared"])
def test_keras_evaluate_counts_every_batch_once(tiny, preprocessor, prepared):
    """The datasets know their length: Keras 3 ``evaluate`` on a dataset of unknown length
    counts an extra, empty batch and reports wrong metrics."""
    data = from_folder(tiny, first_line_only=True)
    if prepared:
        data = prepare(data, preprocessor, tiny / "prepared", num_shards=2)
    dataset = make_dataset(data, preprocessor, batch_size=1)
    assert int(dataset.cardinality()) == 3
    model = mmzoo.create_model("concat_tiny", num_classes=2, **preprocessor.specs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    correct = [np.argmax(model(features, training=False), axis=1) == labels
               for features, labels in dataset]
    expected = float(np.mean(np.concatenate(correct)))
    assert model.evaluate(dataset, verbose=0, return_dict=True)["accuracy"] == pytest.approx(expected)
