"""A PyTorch training script in NVIDIA FLARE's Client API style, on synthetic data.

Every site draws its own samples of one shared task (a linear rule over 16 features), evaluates
the global model it receives, trains a few epochs, and sends its weights back (the job's
params_transfer_type DIFF turns them into differences). It runs unchanged under FLARE.
"""

import argparse
import zlib

import torch
from torch import nn

import nvflare.client as flare
from model import SimpleNetwork
from nvflare.client.tracking import SummaryWriter


def site_data(site, n=512):
    rule = torch.Generator().manual_seed(0)
    w = torch.randn(16, generator=rule)
    g = torch.Generator().manual_seed(zlib.crc32(site.encode()))
    x = torch.randn(n, 16, generator=g)
    y = (x @ w > 0).long()
    return x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4 :], y[n * 3 // 4 :]


def accuracy(net, x, y):
    with torch.no_grad():
        return (net(x).argmax(dim=1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    flare.init()
    site = flare.get_site_name()
    x_train, y_train, x_test, y_test = site_data(site)
    net = SimpleNetwork(hidden=32)
    loss_fn = nn.CrossEntropyLoss()
    writer = SummaryWriter()
    while flare.is_running():
        model = flare.receive()
        net.load_state_dict(model.params)
        acc = accuracy(net, x_test, y_test)
        print(f"{site}: round {model.current_round}: global model accuracy {acc:.3f}", flush=True)
        writer.add_scalar("global_accuracy", acc, global_step=model.current_round)
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics={"accuracy": acc}))
            continue
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
        steps = 0
        for _ in range(args.epochs):
            for i in range(0, len(x_train), args.batch_size):
                opt.zero_grad()
                loss = loss_fn(net(x_train[i : i + args.batch_size]), y_train[i : i + args.batch_size])
                loss.backward()
                opt.step()
                steps += 1
        writer.add_scalar("train_loss", loss.item(), global_step=model.current_round)
        flare.send(
            flare.FLModel(
                params=net.state_dict(),
                metrics={"accuracy": acc},
                meta={"NUM_STEPS_CURRENT_ROUND": steps},
            )
        )


if __name__ == "__main__":
    main()
