"""The experiment report: report.md and report.html with the same tables, and PNG plots beside them."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from facegate.experiments.plotting import pyplot
from facegate.experiments.runner import MODEL_TITLES, ExperimentResult, OpenSetResult
from facegate.experiments.scenarios import Scenario, StudyFigures
from facegate.match.openset import Searches
from facegate.match.superlearner import SuperLearnerClassifier

PROBABILITY_MODELS = ("svc", "stacked", "sl")  # the three the study plotted per face
BAR_COLOURS = {"svc": "#4c72b0", "stacked": "#dd8452", "sl": "#55a868"}

Table = tuple[list[str], list[list[str]]]

plt = pyplot("the experiment report's plots (facegate.experiments.report)")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _study(figures: dict[str, float], name: str) -> str:
    return f"{figures[name]:.1f}" if name in figures else "–"


def plot_cv_boxplot(result: ExperimentResult, out: Path) -> None:
    """Repeated stratified k-fold accuracy per model (the study's Figures 22, 24, 28)."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.boxplot([m.cv_accuracy * 100 for m in result.models], showmeans=True)
    ax.set_xticks(range(1, len(result.models) + 1), [m.title for m in result.models], rotation=30, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Repeated stratified {result.folds}-fold accuracy on the training set ({result.repeats} repeats)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_probabilities(result: ExperimentResult, out: Path) -> None:
    """For every val face: its thumbnail and the probability SVC, Stacked and Super Learner give the true
    person (the study's Figures 21, 23, 25–27, 29–31)."""
    models = [m for m in result.models if m.name in PROBABILITY_MODELS]
    n, cols = len(result.val), 5
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows * 2, cols, figsize=(cols * 2.3, rows * 3.4), gridspec_kw={"height_ratios": [1.3, 1] * rows}
    )
    truth = np.searchsorted(result.classes, result.val.labels)
    for k in range(rows * cols):
        image_ax, bar_ax = axes[2 * (k // cols), k % cols], axes[2 * (k // cols) + 1, k % cols]
        image_ax.axis("off")
        if k >= n:
            bar_ax.axis("off")
            continue
        image_ax.imshow(result.val.crops[k])
        image_ax.set_title(f"{result.val.labels[k]} #{k + 1}", fontsize=8)
        values = [m.val_proba[k, truth[k]] * 100 for m in models]
        bars = bar_ax.barh(range(len(models)), values, color=[BAR_COLOURS[m.name] for m in models])
        bar_ax.set_yticks(
            range(len(models)), [MODEL_TITLES[m.name].replace(" ensemble", "") for m in models], fontsize=7
        )
        bar_ax.set_xlim(0, 100)
        bar_ax.invert_yaxis()
        bar_ax.tick_params(axis="x", labelsize=6)
        bar_ax.bar_label(bars, fmt="%.0f%%", fontsize=6, padding=1)
    fig.suptitle("Probability of the true person for each val face", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_confusions(result: ExperimentResult, out: Path) -> None:
    """Val confusion matrix of every model (rows: truth, columns: prediction)."""
    cols = 4
    rows = -(-len(result.models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3, rows * 3), squeeze=False)
    short = [c[:6] for c in result.classes]
    for ax, model in zip(axes.flat, result.models):
        ax.imshow(model.confusion, cmap="Blues", vmin=0)
        for (i, j), v in np.ndenumerate(model.confusion):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7)
        ax.set_title(f"{model.title} ({_pct(model.val_accuracy)}%)", fontsize=8)
        ax.set_xticks(range(len(short)), short, fontsize=6, rotation=90)
        ax.set_yticks(range(len(short)), short, fontsize=6)
    for ax in axes.flat[len(result.models) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_sl_weights(sl: SuperLearnerClassifier, out: Path) -> None:
    """Super Learner weight per learner, with each learner's cross-validated log loss."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    titles = [MODEL_TITLES[n] for n in sl.learner_names_]
    bars = ax.bar(titles, sl.weights_, color="#55a868")
    ax.bar_label(bars, labels=[f"w={w:.2f}\nCV loss {c:.3f}" for w, c in zip(sl.weights_, sl.cv_loss_)], fontsize=7)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("weight")
    ax.set_title("Super Learner weights (minimising cross-validated log loss)")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _det_points(genuine: Searches, impostor: Searches, p_thr: np.ndarray, d_thr: np.ndarray) -> tuple[np.ndarray, ...]:
    fpir = np.array([impostor.accepted(p, d).mean() for p, d in zip(p_thr, d_thr)])
    fnir = np.array([1 - (genuine.accepted(p, d) & genuine.correct).mean() for p, d in zip(p_thr, d_thr)])
    return fpir, fnir


def plot_det(open_set: OpenSetResult, out: Path) -> None:
    """DET curves (probit axes) of the pooled held-out-person searches: distance alone, probability alone, and
    distance at the median calibrated probability threshold; the dot is the calibrated operating point."""
    g, i = open_set.genuine, open_set.impostor
    distances = np.unique(np.concatenate([g.distance, i.distance, [0.0, 4.0]]))
    probabilities = np.unique(np.concatenate([g.probability, i.probability, [0.0, 1.01]]))
    p_median = float(np.median([r[3] for r in open_set.rows]))
    curves = {
        "distance only": _det_points(g, i, np.zeros_like(distances), distances),
        "probability only": _det_points(g, i, probabilities, np.full_like(probabilities, np.inf)),
        f"distance, probability ≥ {p_median:.2f}": _det_points(g, i, np.full_like(distances, p_median), distances),
    }
    floor = 0.5 / max(len(i.correct), len(g.correct))
    probit = lambda x: norm.ppf(np.clip(x, floor, 1 - floor))  # noqa: E731
    fig, ax = plt.subplots(figsize=(5.5, 5))
    styles: tuple[dict[str, Any], ...] = ({"lw": 3, "alpha": 0.6}, {}, {"ls": "--"})
    for (label, (fpir, fnir)), style in zip(curves.items(), styles):
        ax.plot(probit(fpir), probit(fnir), label=label, drawstyle="steps-post", **style)
    ax.plot(probit(open_set.fpir), probit(open_set.fnir), "ko", label="calibrated thresholds")
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95])
    ticks = ticks[(ticks >= floor) & (ticks <= 1 - floor)]
    ax.set_xticks(probit(ticks), [f"{100 * t:g}%" for t in ticks])
    ax.set_yticks(probit(ticks), [f"{100 * t:g}%" for t in ticks])
    ax.set_xlabel("FPIR (strangers named as someone)")
    ax.set_ylabel("FNIR (enrolled people not named correctly)")
    ax.set_title(f"Open-set DET, each person held out in turn ({MODEL_TITLES[open_set.classifier]})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


Section = tuple[str, str, Table]  # (heading, text before the table, table)


def _accuracy_section(result: ExperimentResult, study: StudyFigures | None) -> Section:
    """Train and val accuracy of every model, next to the study's figures when reproducing a scenario."""
    head = ["model", "train acc %", "val acc %"] + (["study train %", "study val %"] if study else [])
    rows = [
        [m.title, _pct(m.train_accuracy), _pct(m.val_accuracy)]
        + ([_study(study.train, m.name), _study(study.val, m.name)] if study else [])
        for m in result.models
    ]
    text = f"{len(result.train)} train faces, {len(result.val)} val faces, {len(result.classes)} people."
    return "1. Accuracy", text, (head, rows)


def _cv_section(result: ExperimentResult, study: StudyFigures | None) -> Section:
    """Repeated k-fold accuracy on the train set."""
    head = ["model", "mean %", "std %", "min %"] + (["study mean %"] if study else [])
    rows = [
        [m.title, _pct(m.cv_accuracy.mean()), _pct(m.cv_accuracy.std()), _pct(m.cv_accuracy.min())]
        + ([_study(study.cv_accuracy, m.name)] if study else [])
        for m in result.models
        if len(m.cv_accuracy)
    ]
    text = f"{result.folds} folds × {result.repeats} repeats. ![cv](cv_boxplot.png)"
    return "2. Repeated stratified k-fold accuracy (train set)", text, (head, rows)


def _probability_section(result: ExperimentResult) -> Section:
    """Mean probability of the true person over each person's val faces, per probabilistic model."""
    truth = np.searchsorted(result.classes, result.val.labels)
    models = [m for m in result.models if m.name in PROBABILITY_MODELS]
    rows = []
    for person in result.classes:
        mine = result.val.labels == person
        if mine.any():
            rows.append([str(person)] + [f"{100 * m.val_proba[mine, truth[mine]].mean():.1f}" for m in models])
    heading = "3. Probability of the true person (mean over each person's val faces, %)"
    return heading, "Per face: ![probabilities](probabilities.png)", (["person"] + [m.title for m in models], rows)


def _calibration_section(result: ExperimentResult) -> Section:
    """Log loss, Brier score, ECE and the cost of fitting and predicting, per model."""
    head = ["model", "log loss", "Brier", "ECE", "fit s", "predict ms/face"]
    rows = [
        [
            m.title,
            f"{m.log_loss:.3f}",
            f"{m.brier:.3f}",
            f"{m.ece:.3f}",
            f"{m.fit_seconds:.2f}",
            f"{1000 * m.predict_seconds / len(result.val):.2f}",
        ]
        for m in result.models
    ]
    text = "Val set. ECE: 10 equal-width confidence bins. ![confusion](confusion.png)"
    return "4. Calibration and cost", text, (head, rows)


def _super_learner_section(result: ExperimentResult, sl: SuperLearnerClassifier) -> Section:
    """The Super Learner's weight and CV log loss per learner (and the deep variant's layers, when fitted)."""
    deep = (
        f" Deep Super Learner: {result.dsl.n_layers_} layer(s), CV log loss per layer tried: "
        + ", ".join(f"{x:.4f}" for x in result.dsl.layer_loss_)
        + "."
        if result.dsl
        else ""
    )
    rows = [[MODEL_TITLES[n], f"{w:.3f}", f"{c:.4f}"] for n, w, c in zip(sl.learner_names_, sl.weights_, sl.cv_loss_)]
    text = f"Weighted CV log loss {sl.cv_loss_ensemble_:.4f}. ![weights](sl_weights.png)" + deep
    return "5. Super Learner weights", text, (["learner", "weight", "CV log loss"], rows)


def _open_set_section(o: OpenSetResult) -> Section:
    """Each person held out of training in turn: how often their photos were named as someone else."""
    text = (
        f"Classifier {MODEL_TITLES[o.classifier]}; thresholds calibrated on the enrolled people for "
        f"FPIR {100 * o.fpir_target:g}%. Pooled: **FPIR {100 * o.fpir:.1f}%** "
        f"({int(o.impostor_accepted.sum())}/{len(o.impostor_accepted)} stranger photos named), "
        f"**FNIR {100 * o.fnir:.1f}%** over {len(o.genuine_accepted)} genuine val searches. ![det](det.png)"
    )
    head = ["held-out person", "stranger photos", "named as someone", "unknown %", "probability thr", "distance thr"]
    rows = [[p, str(n), str(k), _pct(1 - k / n), f"{pt:.3f}", f"{dt:.3f}"] for p, n, k, pt, dt in o.rows]
    return "6. Open set: each person held out of training in turn", text, (head, rows)


def _tables(result: ExperimentResult, scenario: Scenario | None) -> list[Section]:
    """Every section of the report, in order."""
    study = scenario.study if scenario else None
    sections = [
        _accuracy_section(result, study),
        _cv_section(result, study),
        _probability_section(result),
        _calibration_section(result),
    ]
    if result.sl is not None:
        sections.append(_super_learner_section(result, result.sl))
    if result.open_set is not None:
        sections.append(_open_set_section(result.open_set))
    return sections


def _markdown_table(table: Table) -> str:
    head, rows = table
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _html_text(text: str) -> str:
    """Escape text, turning markdown images ![alt](src) and **bold** into HTML."""
    out = []
    for part in html.escape(text).split("!["):
        if "](" in part and part.index("](") < part.find(")"):
            alt, rest = part.split("](", 1)
            src, tail = rest.split(")", 1)
            out.append(f'<br><img src="{src}" alt="{alt}" style="max-width:100%"><br>{tail}')
        else:
            out.append(part)
    bold = "".join(out).split("**")
    return "".join(f"<b>{b}</b>" if k % 2 else b for k, b in enumerate(bold))


def _html_table(table: Table) -> str:
    head, rows = table
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def write_report(result: ExperimentResult, out: Path, scenario: Scenario | None = None) -> Path:
    """Write out/report.md, out/report.html and the PNG plots; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    if result.repeats:
        plot_cv_boxplot(result, out / "cv_boxplot.png")
    if any(m.name in PROBABILITY_MODELS for m in result.models):
        plot_probabilities(result, out / "probabilities.png")
    plot_confusions(result, out / "confusion.png")
    if result.sl is not None:
        plot_sl_weights(result.sl, out / "sl_weights.png")
    if result.open_set is not None:
        plot_det(result.open_set, out / "det.png")
    title = f"FaceGate experiment — scenario {scenario.number}: {scenario.title}" if scenario else "FaceGate experiment"
    intro = [scenario.note] if scenario else []
    if result.train.skipped or result.val.skipped:
        intro.append(
            f"Photos without a detected face were left out: {len(result.train.skipped)} train, "
            f"{len(result.val.skipped)} val."
        )
    sections = _tables(result, scenario)
    md = [f"# {title}", *intro]
    page = [f"<h1>{html.escape(title)}</h1>", *(f"<p>{_html_text(t)}</p>" for t in intro)]
    for heading, text, table in sections:
        md += [f"## {heading}", text, _markdown_table(table)]
        page += [f"<h2>{html.escape(heading)}</h2>", f"<p>{_html_text(text)}</p>", _html_table(table)]
    (out / "report.md").write_text("\n\n".join(md) + "\n")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}"
    )
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(page)}</body></html>"
    )
    (out / "report.html").write_text(document)
    return out / "report.html"
