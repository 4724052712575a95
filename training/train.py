"""Train the digit network on NumtaDB a-d and ISI, validating on held-out splits and canvas drawings.

    python -m training.train                       # the committed model (how long: docs/model-card.md, Training)
    python -m training.train --holdout-source d    # cross-writer check: NumtaDB source d unseen
    python -m training.train --arch original       # the original project's network, as baseline
    python -m training.train --init weights/bengali_digit.pt --nondigits runs/nondigits.npz --ood extra \
        --epochs 3 --lr 1e-3                       # "not sure": outlier-exposure fine-tune (make train)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from bengali_digit import network
from training import augment, data, evaluate, redraw
from training.metrics import confusion_matrix, evaluate_arrays
from training.plots import plot_confusion, plot_curves


def training_split(args) -> tuple[data.Digits, dict[str, data.Digits], np.lib.npyio.NpzFile | None]:
    """(the raw digits that train, {validation set name: raw digits}, canvas_val.npz or None)."""
    numta, isi = data.load_numta_and_isi(args.data)
    canvas_path = Path(args.data) / data.CANVAS_FILE if Path(args.data).is_dir() else None
    canvas = np.load(canvas_path) if canvas_path and canvas_path.exists() else None
    redrawn = data.canvas_rows(canvas)  # canvas_val validates: its source rows never train

    if args.holdout_source:
        numta_train, numta_val = data.training_rows(
            "numta", len(numta), redrawn, np.flatnonzero(numta.src == data.NUMTA_SOURCES.index(args.holdout_source)))
        numta_name = f"numta-{args.holdout_source}-unseen"
    else:
        numta_train, numta_val = data.training_rows("numta", len(numta), redrawn)
        numta_name = data.HELD_OUT_SETS["numta"]
    parts = [numta.subset(numta_train)]
    val_raw = {numta_name: numta.subset(numta_val)}
    if isi is not None:
        isi_train, isi_val = data.training_rows("isi", len(isi), redrawn)
        parts.append(isi.subset(np.tile(isi_train, args.isi_repeat)))
        val_raw[data.HELD_OUT_SETS["isi"]] = isi.subset(isi_val)
    return data.concat(parts), val_raw, canvas


def build_datasets(args) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(train images (N, 28, 28) uint8, train labels, {validation set name: (images, labels)})."""
    train, val_raw, canvas = training_split(args)
    if args.limit:  # smoke runs and quick fine-tunes: a seeded sample of the rows that train and validate
        train = train.subset(data.sample_rows(len(train), args.limit, args.seed))
        val_raw = {k: d.subset(data.sample_rows(len(d), args.limit, args.seed)) for k, d in val_raw.items()}

    images = [train.x]
    labels = [train.y]
    if args.redraw:
        images.append(redraw.redraw_all(train.x, seed=args.seed, low=args.pen_range[0], high=args.pen_range[1]))
        labels.append(train.y)
    x_parts, y_parts = [], []
    for xs, ys in zip(images, labels, strict=True):
        prepared, kept = data.prepare_all(xs, desc="preparing training images")
        x_parts.append((prepared[kept] * 255).round().astype(np.uint8))
        y_parts.append(ys[kept])
    x_train, y_train = np.concatenate(x_parts), np.concatenate(y_parts)
    if args.extra:
        x_extra, y_extra = oversampled(args.extra, args.extra_share, len(y_train))
        x_train, y_train = np.concatenate([x_train, x_extra]), np.concatenate([y_train, y_extra])

    val = {}
    for name, d in val_raw.items():
        prepared, kept = data.prepare_all(d.x, desc=f"preparing {name}")
        val[name] = (prepared[kept], d.y[kept])
    if canvas is not None:
        prepared, kept = data.prepare_all(canvas["x"], desc="preparing canvas_val")
        y = canvas["y"].astype(np.int64)
        val["canvas"] = (prepared[kept], y[kept])
        for src, name in ((0, "canvas-isi"), (1, "canvas-numta")):
            m = kept & (canvas["src"] == src)
            val[name] = (prepared[m], y[m])
    return x_train, y_train, val


def oversampled(path: Path, share: float, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """Extra labelled drawings (an npz as `training.evaluate` reads it: x, y), prepared as served and
    repeated until they are about `share` of the training images: otherwise a handful of users'
    corrections among a hundred thousand images would hardly move the model."""
    x, y = evaluate.load_set(str(path), data.DEFAULT_DATA_DIR)
    prepared, kept = data.prepare_all(x, desc="preparing extra drawings")
    if not kept.any():
        raise SystemExit(f"{path}: the preprocessing refuses every drawing in it (blank or noise)")
    repeat = max(1, round(share / (1 - share) * n_train / kept.sum()))
    x_extra = (prepared[kept] * 255).round().astype(np.uint8)
    print(f"{kept.sum()} extra drawings from {path}, each {repeat} times")
    return np.tile(x_extra, (repeat, 1, 1)), np.tile(y[kept], repeat)


def init_model(args, arch_args: dict) -> torch.nn.Module:
    """A fresh network, or (--init) one that starts from a checkpoint's weights; a 10-class checkpoint
    grows an 11th, "not a digit", output that starts at zero."""
    model = network.build(args.arch, **arch_args)
    if args.init:
        state = torch.load(args.init, map_location="cpu", weights_only=True)["state_dict"]
        head_w, head_b = "head.1.weight", "head.1.bias"
        if state[head_w].shape[0] < model.head[1].out_features:
            grow = model.head[1].out_features - state[head_w].shape[0]
            state[head_w] = torch.cat([state[head_w], torch.zeros(grow, state[head_w].shape[1])])
            state[head_b] = torch.cat([state[head_b], torch.zeros(grow)])
        model.load_state_dict(state)
    return model.to(memory_format=torch.channels_last)


def ood_loss(logits: torch.Tensor, method: str) -> torch.Tensor:
    """Outlier exposure (Hendrycks et al. 2019): on non-digits, either the cross-entropy to the
    uniform distribution over the ten digits, or the cross-entropy to the extra class."""
    if method == "uniform":
        return -logits.log_softmax(1).mean(1).mean()
    return F.cross_entropy(logits, torch.full((len(logits),), 10, dtype=torch.long))


def augmented_batch(x: torch.Tensor, aug, chunk: int) -> torch.Tensor:
    """Augment in chunks: v2 draws one set of random parameters per call, so small chunks of a
    shuffled batch give nearly per-image variety at a fraction of the per-image cost."""
    return torch.cat([aug(c) for c in x.split(chunk)])


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def use_bf16(precision: str) -> bool:
    """bf16 autocast trains about 3× faster than float32 on CPUs with native bf16 (AVX-512 BF16,
    AMX), and about 20× slower on those without (AVX2 only), where oneDNN emulates it. Evaluation
    and serving are float32 either way."""
    if precision == "auto":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return precision == "bf16"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR,
                   help="packed npz, its folder, or a NumtaDB download (default: $BDR_DATA_DIR or ../shared/data)")
    p.add_argument("--arch", default="digitnet", choices=sorted(network.ARCHITECTURES))
    p.add_argument("--width", type=int, default=32, help="DigitNet base width (default: 32)")
    p.add_argument("--epochs", type=int, default=24, help="(default: 24)")
    p.add_argument("--batch-size", type=int, default=128, help="(default: 128)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (default: 3e-3)")
    p.add_argument("--weight-decay", type=float, default=5e-4, help="(default: 5e-4)")
    p.add_argument("--label-smoothing", type=float, default=0.1, help="(default: 0.1)")
    p.add_argument("--ema", type=float, default=0.999, help="weight EMA decay; the EMA is saved (default: 0.999)")
    p.add_argument("--aug-chunk", type=int, default=8, help="images sharing one augmentation draw (default: 8)")
    p.add_argument("--no-redraw", dest="redraw", action="store_false", help="skip canvas-style redrawn copies")
    p.add_argument("--isi-repeat", type=int, default=1, help="copies of each ISI training image (default: 1)")
    p.add_argument("--pen-range", type=float, nargs=2, default=(0.05, 0.2), metavar=("LOW", "HIGH"),
                   help="pen width of redrawn copies, as a fraction of the digit's size (default: 0.05 0.2)")
    p.add_argument("--init", type=Path, help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument("--nondigits", type=Path, help="non-digits for outlier exposure (python -m training.nondigits)")
    p.add_argument("--ood", choices=("extra", "uniform"), default="extra",
                   help="outlier loss: an 11th 'not a digit' class, or uniform over the digits (default: extra)")
    p.add_argument("--ood-weight", type=float, default=0.5, help="weight of the outlier loss (default: 0.5)")
    p.add_argument("--ood-batch", type=int, default=64, help="non-digits per batch (default: 64)")
    p.add_argument("--freeze-bn", action="store_true", help="batch-norm statistics stay as --init left them")
    p.add_argument("--extra", type=Path, help="extra labelled drawings to mix in, an npz of x, y (users' corrections)")
    p.add_argument("--extra-share", type=float, default=0.05,
                   help="share of the training images that are --extra drawings, repeated (default: 0.05)")
    p.add_argument("--limit", type=int, default=0, help="train and validate on a seeded sample of this many rows")
    p.add_argument("--holdout-source", choices=list("abcd"), help="hold one NumtaDB source out entirely")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="training arithmetic; auto: bf16 where the CPU has native bf16 (default: auto)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: 2, this machine's cores)")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke runs)")
    p.add_argument("--run-dir", type=Path, default=Path("runs/latest"), help="metrics and plots (default: runs/latest)")
    p.add_argument("--save", type=Path, help="also write the checkpoint here (e.g. weights/bengali_digit.pt)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    bf16 = use_bf16(args.precision)
    print(f"training in {'bf16 autocast' if bf16 else 'float32'} on {args.threads} threads")

    x_train, y_train, val = build_datasets(args)
    sets = ", ".join(f"{k} ({len(v[1])})" for k, v in val.items())
    print(f"training on {len(y_train)} images; validating on {sets}")
    x_train_t = torch.from_numpy(x_train)[:, None]
    y_train_t = torch.from_numpy(y_train)

    arch_args = {"width": args.width} if args.arch == "digitnet" else {}
    if args.nondigits and args.ood == "extra":
        arch_args["classes"] = 11
    model = init_model(args, arch_args)
    outliers = None
    if args.nondigits:
        with np.load(args.nondigits) as f:
            outliers = torch.from_numpy(np.concatenate([f[k] for k in f.files if k.startswith("train_")]))[:, None]
        print(f"outlier exposure ({args.ood}) with {len(outliers)} non-digits")
    # EMA that starts as a plain running mean, so early epochs' validation is meaningful
    ema = AveragedModel(model, use_buffers=True,
                        avg_fn=lambda avg, new, n: avg + (new - avg) * max(1 - args.ema, 1 / (int(n) + 1)))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    aug = augment.build()
    steps_per_epoch = math.ceil(len(y_train) / args.batch_size)
    total = args.max_steps or args.epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(args.seed)

    history: list[dict] = []
    step, t0 = 0, time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        if args.freeze_bn:  # keep the digits' normalisation: outliers in the batch would shift it
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
        order = torch.randperm(len(y_train_t), generator=generator)
        bar = tqdm(order.split(args.batch_size), desc=f"epoch {epoch}/{args.epochs}", leave=False)
        loss_sum, seen = 0.0, 0
        for idx in bar:
            x = x_train_t[idx]
            if outliers is not None:
                x = torch.cat([x, outliers[torch.randint(len(outliers), (args.ood_batch,), generator=generator)]])
            x = augmented_batch(x.float() / 255, aug, args.aug_chunk).contiguous(memory_format=torch.channels_last)
            for g in opt.param_groups:
                # a --max-steps run warms up for at most half its steps, so it still decays
                g["lr"] = lr_at(step, total, args.lr, warmup=min(steps_per_epoch, total) // 2)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x).float()
                loss = F.cross_entropy(logits[: len(idx)], y_train_t[idx], label_smoothing=args.label_smoothing)
                if outliers is not None:
                    loss = loss + args.ood_weight * ood_loss(logits[len(idx):], args.ood)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update_parameters(model)
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            step += 1
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
            if step >= total:
                break
        scores = {name: evaluate_arrays(ema.module, x, y)[0] for name, (x, y) in val.items()}
        history.append({"epoch": epoch, "minutes": (time.time() - t0) / 60, "train_loss": loss_sum / seen, **scores})
        shown = " ".join(f"{k} {v:.4%}" for k, v in scores.items())
        print(f"epoch {epoch}: loss {loss_sum / seen:.4f} {shown}", flush=True)
        if step >= total:
            break

    final = ema.module.eval()
    results = {}
    for name, (x, y) in val.items():
        acc, pred = evaluate_arrays(final, x, y)
        results[name] = {"n": len(y), "accuracy": acc, "confusion": confusion_matrix(y, pred).tolist()}
    metrics = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "parameters": sum(p.numel() for p in final.parameters()),
        "train_images": len(y_train),
        "minutes": (time.time() - t0) / 60,
        "history": history,
        "validation": results,
    }
    (args.run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    plot_curves(history, args.run_dir / "curves.png")
    for name, r in results.items():
        title = f"{name}: {r['accuracy']:.2%} of {r['n']}"
        plot_confusion(np.array(r["confusion"]), title, args.run_dir / f"confusion-{name}.png")
    meta = {"validation": {k: v["accuracy"] for k, v in results.items()},
            "holdout_source": args.holdout_source, "seed": args.seed}
    ckpt = network.checkpoint(final, args.arch, arch_args, meta)
    torch.save(ckpt, args.run_dir / "model.pt")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        torch.save(ckpt, args.save)
    print(f"done in {metrics['minutes']:.1f} min: " + ", ".join(f"{k} {v['accuracy']:.4%}" for k, v in results.items()))
    return metrics


if __name__ == "__main__":
    main()
