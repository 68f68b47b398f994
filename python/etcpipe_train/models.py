"""The neural architectures, as TorchScript-able modules.

Each forward takes the tensors of its model.json "inputs" in order, shaped as the rows of
etcpipe hold them (matrix uint8 [B, N, L]; sizes int32 [B, N]; iats float32 [B, N]; flags
uint8 [B, N]), and returns logits [B, classes]. Scaling of raw values happens inside, so
etcpipe hands its rows over unchanged.
"""
import torch
from torch import nn
import torch.nn.functional as F


class DeepPacketCNN(nn.Module):
    """DeepPacket-style 1D CNN on payload bytes: the N packets are the channels of a
    sequence of L byte values; two convolutions, global max pooling, two dense layers."""

    inputs = ["matrix"]

    def __init__(self, packets: int, classes: int, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv1d(packets, width, kernel_size=7, padding=3)
        self.conv2 = nn.Conv1d(width, width, kernel_size=5, padding=2)
        self.fc1 = nn.Linear(width, 64)
        self.fc2 = nn.Linear(64, classes)
        self.drop = nn.Dropout(0.2)

    def forward(self, matrix: torch.Tensor) -> torch.Tensor:
        x = matrix.float() / 255.0
        x = F.max_pool1d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = torch.amax(x, dim=2)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


class PatternAwareBlock(nn.Module):
    """Nepco's localized pattern-aware convolution: a depthwise convolution whose kernel
    weights are a softmax over the window, gated by a parallel convolution through a
    sigmoid, with a residual connection, layer norm and max pooling."""

    def __init__(self, dim: int, kernel: int):
        super().__init__()
        self.kernel_logits = nn.Parameter(torch.zeros(dim, 1, kernel))
        self.gate = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)
        self.pad = kernel // 2
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, D, T]
        w = torch.softmax(self.kernel_logits, dim=2)
        local = F.conv1d(x, w, padding=self.pad, groups=self.dim)
        y = x + local * torch.sigmoid(self.gate(x))
        y = self.norm(y.transpose(1, 2)).transpose(1, 2)
        return F.max_pool1d(y, 2)


class NepcoNet(nn.Module):
    """Nepco-style: byte embedding, stacked pattern-aware blocks over the bytes of the
    flow's packets (in order), global max pooling, a dense classifier."""

    inputs = ["matrix"]

    def __init__(self, packets: int, classes: int, dim: int = 32, blocks: int = 3):
        super().__init__()
        self.embed = nn.Embedding(256, dim)
        self.blocks = nn.ModuleList([PatternAwareBlock(dim, 5) for _ in range(blocks)])
        self.out = nn.Linear(dim, classes)

    def forward(self, matrix: torch.Tensor) -> torch.Tensor:
        x = self.embed(matrix.long().flatten(1)).transpose(1, 2)  # [B, D, N*L]
        for block in self.blocks:
            x = block(x)
        return self.out(torch.amax(x, dim=2))


class SequenceGRU(nn.Module):
    """FS-Net-style: a bidirectional GRU over the packets' signed sizes, inter-arrival
    times and TCP flags."""

    inputs = ["sizes", "iats", "flags"]

    def __init__(self, packets: int, classes: int, hidden: int = 64):
        super().__init__()
        self.gru = nn.GRU(10, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, classes)

    def forward(self, sizes: torch.Tensor, iats: torch.Tensor, flags: torch.Tensor) -> torch.Tensor:
        s = sizes.float() / 1500.0
        t = torch.log1p(iats.float().clamp(min=0.0) * 1000.0)
        bits = torch.stack([((flags.int() >> k) & 1).float() for k in range(8)], dim=2)
        x = torch.cat([s.unsqueeze(2), t.unsqueeze(2), bits], dim=2)
        h, _ = self.gru(x)
        return self.out(torch.amax(h, dim=1))


ARCHITECTURES = {"cnn": DeepPacketCNN, "nepco": NepcoNet, "seq": SequenceGRU}
