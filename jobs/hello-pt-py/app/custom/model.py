"""The job's model: a small network for 16-feature, 2-class data."""

import torch
from torch import nn


class SimpleNetwork(nn.Module):
    def __init__(self, features=16, hidden=32, classes=2):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
