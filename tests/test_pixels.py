"""The pixel conversions: the table lookup gives the model the same bits as the plain formula."""

import numpy as np
import pytest
import torch

from cyclegan_batch.models.pixels import to_model_input, to_model_range, to_pixels, to_uint8_image


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_model_input_is_the_formula_bit_for_bit(dtype: torch.dtype) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    frames[0, 0, :, 0] = 0
    frames[0, 1, :, :] = 255
    every_value = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    for batch in (frames, every_value, frames[:, ::-1]):  # a strided view too
        got = to_model_input(batch, dtype)
        want = to_model_range(torch.from_numpy(batch.copy()).permute(0, 3, 1, 2)).to(dtype)
        assert got.dtype == dtype and got.shape == want.shape
        assert torch.equal(got.float(), want.float())


def test_pixels_leave_their_input_alone_in_any_dtype() -> None:
    y = torch.tensor([[-1.0, -0.5, 0.0, 0.25, 1.0, 1.5, -2.0]]).reshape(1, 1, 1, 7).expand(1, 3, 1, 7)
    for t in (y.clone(), y.to(torch.bfloat16)):
        before = t.clone()
        assert to_pixels(t).tolist()[0][0][0] == [0, 64, 128, 159, 255, 255, 0]
        assert torch.equal(t, before)
    assert to_uint8_image(y).shape == (1, 1, 7, 3)
