"""The rehearsal of the paper profile at the real sizes (issue 17, item 6): its profile and its
stand-in features (benchmarks/rehearsal.py runs it)."""
import numpy as np

from agcc.features import WAV2VEC2_BASE_DIM, extractor_from_params, make_extractor
from agcc.params import resolve

MODEL_SHAPE = ("d_model", "n_heads", "n_layers", "d_ff", "fc_sizes", "dropout", "frame_pool", "max_utt_frames",
               "batch_size", "lr", "weight_decay", "improv_label")


def test_the_rehearsal_profile_is_the_paper_profile_at_the_real_sizes_on_simulated_corpora():
    paper, rehearsal = resolve("paper"), resolve("rehearsal")
    assert {k: rehearsal[k] for k in MODEL_SHAPE} == {k: paper[k] for k in MODEL_SHAPE}
    assert not rehearsal["require_real_corpora"] and rehearsal["features"] == "projected"
    crema = rehearsal["sim_crema_actors"] * 82 * rehearsal["sim_crema_sentences"] // 12
    improv = rehearsal["sim_improv_sessions"] * 2 * rehearsal["sim_improv_per_speaker"]
    assert abs(crema - 7442) / 7442 < 0.005 and abs(improv - 8438) / 8438 < 0.005  # Sec. II-A's sizes


def test_the_stand_in_features_have_wav2vec2_bases_shape_and_log_mels_timing():
    rng = np.random.default_rng(0)
    wav = rng.normal(0, 0.1, 16000 + 123).astype(np.float32)
    ext = extractor_from_params(resolve("rehearsal"))
    feats = ext(wav)
    logmel = make_extractor("logmel", n_mels=ext.logmel.n_mels)(wav)
    assert feats.shape == (len(wav) // 320, WAV2VEC2_BASE_DIM) == (50, 768) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, logmel @ ext.projection, rtol=1e-6)
    again = make_extractor("projected", n_mels=ext.logmel.n_mels)
    np.testing.assert_array_equal(again(wav), feats)  # a fixed projection: the cache stays valid
    assert ext.config() != make_extractor("logmel", n_mels=ext.logmel.n_mels).config()  # its own cache entries
