"""Sanity report on triage/data/corpus/train.jsonl.

    python tools/corpus/check_corpus.py              # counts, genre shares, 5-fold CV
    python tools/corpus/check_corpus.py --sample 30  # also print 30 random items

The cross-validated accuracy is IN-CORPUS: train and test folds come from the same generator
and the same scenario banks, so it is an optimistic upper bound, not an estimate of accuracy
on real citizen messages.
"""
import argparse
import collections
import json
import pathlib
import random

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRAIN = ROOT / "triage/data/corpus/train.jsonl"


def load(path=TRAIN):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def table(items):
    by_l1 = collections.Counter(it["category_l1"] for it in items)
    kinds = ["consultation", "help", "complaint", "report", "suggestion"]
    cross = collections.Counter((it["category_l1"], it["kind"]) for it in items)
    print("| category_l1 | items | " + " | ".join(kinds) + " |")
    print("|---|---:|" + "---:|" * len(kinds))
    for l1, n in by_l1.most_common():
        print(f"| {l1} | {n} | " + " | ".join(str(cross[(l1, k)]) for k in kinds) + " |")
    kc = collections.Counter(it["kind"] for it in items)
    print(f"| total | {len(items)} | " + " | ".join(f"{kc[k]} ({kc[k] / len(items):.1%})" for k in kinds) + " |")
    print()
    by_l2 = collections.Counter((it["category_l1"], it["category"]) for it in items)
    print("second level: min", min(by_l2.values()), "max", max(by_l2.values()))
    for (l1, l2), n in sorted(by_l2.items()):
        print(f"  {l1}/{l2}: {n}")
    genres = collections.Counter(it["source"].split(":")[0] for it in items)
    lens = collections.defaultdict(list)
    for it in items:
        lens[it["source"].split(":")[0]].append(len(it["text"]))
    print("\n| genre | items | share | median length |")
    print("|---|---:|---:|---:|")
    for g, n in genres.most_common():
        ls = sorted(lens[g])
        print(f"| {g} | {n} | {n / len(items):.1%} | {ls[len(ls) // 2]} |")
    scen = collections.Counter((it["category"], it["source"].split(":", 1)[1]) for it in items)
    per_class = collections.Counter(c for c, _ in scen)
    print("\nscenarios per class: min", min(per_class.values()), "max", max(per_class.values()))
    size = {l2: n for (_, l2), n in by_l2.items()}
    (cls, t), n = max(scen.items(), key=lambda kv: kv[1] / size[kv[0][0]])
    print(f"largest single-scenario share of a class: {cls}/{t} {n}/{size[cls]} = {n / size[cls]:.1%}")


def crossval(items, folds=5):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    texts = [it["text"] for it in items]
    out = {}
    for label in ("kind", "category_l1", "category"):
        y = [it[label] for it in items]
        pipe = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
                             LogisticRegression(max_iter=2000, C=5.0))
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        scores = cross_val_score(pipe, texts, y, cv=cv, scoring="accuracy", n_jobs=-1)
        out[label] = (scores.mean(), scores.std())
        print(f"{folds}-fold CV accuracy ({label}), in-corpus: {scores.mean():.3f} ± {scores.std():.3f}")
    # harder: whole scenarios held out (a test item's scenario was never seen in training)
    from sklearn.model_selection import GroupKFold
    groups = [it["category"] + "/" + it["source"].split(":", 1)[1] for it in items]
    for label in ("kind", "category_l1", "category"):
        y = [it[label] for it in items]
        pipe = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
                             LogisticRegression(max_iter=2000, C=5.0))
        scores = cross_val_score(pipe, texts, y, cv=GroupKFold(n_splits=folds), groups=groups, scoring="accuracy", n_jobs=-1)
        out[label + "_heldout_scenarios"] = (scores.mean(), scores.std())
        print(f"{folds}-fold CV accuracy ({label}), scenarios held out: {scores.mean():.3f} ± {scores.std():.3f}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-cv", action="store_true")
    args = ap.parse_args()
    items = load()
    table(items)
    if not args.no_cv:
        crossval(items)
    if args.sample:
        for it in random.Random(args.seed).sample(items, args.sample):
            print(f"\n== {it['id']} {it['kind']} / {it['category_l1']} / {it['category']} [{it['source']}]\n{it['text']}")


if __name__ == "__main__":
    main()
