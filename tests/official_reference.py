"""The official junyanz/pytorch-CycleGAN-and-pix2pix generators (models/networks.py), written out here.

They give the tests checkpoints with the official key names, made independently of cyclegan_batch/models/official.py:
the weights come from this project's generator (random, copied by parameter order), the names from these
modules' own state_dict(). Only what the tests need: ResnetGenerator (reflect padding, any norm, dropout
or not) and a small UnetGenerator.
"""

from __future__ import annotations

import torch
from torch import nn

from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator, init_weights


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm_layer, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        conv_block: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm_layer(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            conv_block += [nn.Dropout(0.5)]
        conv_block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias)]
        conv_block += [norm_layer(dim)]
        self.conv_block = nn.Sequential(*conv_block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def instance_norm(dim: int) -> nn.Module:  # the official default: functools.partial(InstanceNorm2d, affine=False, ...)
    return nn.InstanceNorm2d(dim, affine=False, track_running_stats=False)


class OfficialResnetGenerator(nn.Module):
    def __init__(
        self, ngf: int = 64, n_blocks: int = 9, norm_layer=instance_norm, use_dropout: bool = False, input_nc: int = 3
    ) -> None:
        super().__init__()
        use_bias = norm_layer is instance_norm
        model: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        for _ in range(n_blocks):
            model += [ResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=use_bias
                ),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None, submodule=None, outermost=False):
        super().__init__()
        innermost = submodule is None
        input_nc = input_nc or outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        if outermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
            model = [downconv, submodule, *up]
        elif innermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=False), nn.BatchNorm2d(outer_nc)]
            model = [nn.LeakyReLU(0.2, True), downconv, *up]
        else:
            up = [
                nn.ReLU(True),
                nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer_nc),
            ]
            model = [nn.LeakyReLU(0.2, True), downconv, nn.BatchNorm2d(inner_nc), submodule, *up]
        self.outermost = outermost
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def official_unet(ngf: int = 8) -> nn.Module:
    """A 3-level U-Net in the official layout (unet_256 has 8 levels; the keys look the same)."""
    inner = UnetSkipConnectionBlock(ngf * 2, ngf * 2)
    middle = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=inner)
    outer = UnetSkipConnectionBlock(3, ngf, input_nc=3, submodule=middle, outermost=True)
    wrapper = nn.Module()
    wrapper.model = outer  # UnetGenerator keeps the outermost block as self.model
    return wrapper


def random_pair(
    ngf: int, n_blocks: int, use_dropout: bool, seed: int
) -> tuple[ResnetGenerator, OfficialResnetGenerator]:
    """This project's generator with random weights (biases too), and the official one holding the same values."""
    torch.manual_seed(seed)
    ours = ResnetGenerator(GeneratorSpec(ngf=ngf, n_blocks=n_blocks))
    init_weights(ours)
    with torch.no_grad():
        for module in ours.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d) and module.bias is not None:
                module.bias.normal_(0, 0.1)  # nonzero, so a bias landing in the wrong layer shows
    theirs = OfficialResnetGenerator(ngf=ngf, n_blocks=n_blocks, use_dropout=use_dropout)
    with torch.no_grad():
        for mine, official in zip(ours.parameters(), theirs.parameters(), strict=True):
            official.copy_(mine)
    return ours.eval(), theirs.eval()


def legacy_norm_keys(net: nn.Module) -> dict[str, torch.Tensor]:
    """The buffers a PyTorch < 0.4 InstanceNorm2d saved, which the official code deletes before loading."""
    extra = {}
    for name, module in net.named_modules():
        if isinstance(module, nn.InstanceNorm2d):
            extra[f"{name}.running_mean"] = torch.rand(module.num_features)
            extra[f"{name}.running_var"] = torch.rand(module.num_features) + 0.5
            extra[f"{name}.num_batches_tracked"] = torch.tensor(7)
    return extra
