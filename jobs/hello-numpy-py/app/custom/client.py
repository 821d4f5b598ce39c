"""A NumPy training script in NVIDIA FLARE's Client API style: it runs unchanged under FLARE and here.

Each round it receives the global model, "trains" by adding --increment to every weight, reports
the mean weight it received as a metric, and sends the new weights back.
"""

import argparse

import numpy as np

import nvflare.client as flare
from nvflare.client.tracking import SummaryWriter


def train(weights, increment):
    return weights + increment  # a new array: the received one is read-only


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--increment", type=float, default=1.0)
    args = parser.parse_args()

    flare.init()
    site = flare.system_info()["site_name"]
    writer = SummaryWriter()
    print(f"{site}: started", flush=True)
    while flare.is_running():
        model = flare.receive()
        weights = model.params["numpy_key"]
        print(f"{site}: round {model.current_round}: received weights {weights.tolist()}", flush=True)
        mean = float(np.mean(weights))
        writer.add_scalar("weight_mean", mean, global_step=model.current_round)
        if flare.is_train():
            new_weights = train(weights, args.increment)
            flare.send(
                flare.FLModel(
                    params={"numpy_key": new_weights},
                    params_type="FULL",
                    metrics={"weight_mean": mean},
                    meta={"NUM_STEPS_CURRENT_ROUND": 1},
                    current_round=model.current_round,
                )
            )
        else:
            flare.send(flare.FLModel(metrics={"weight_mean": mean}))
    print(f"{site}: done", flush=True)


if __name__ == "__main__":
    main()
