"""eval report's plots of generate runs from hand-made cards: agreement, LPR beside agreement over healthy answers,
and the health flags; a language lid.176 cannot identify (agreement None) is left out and labelled, not a crash."""

from __future__ import annotations

from core.confusion import NOT_IDENTIFIABLE


def _row(n, agreement, healthy, lpr, flags, lcb_ci=True):
    ci = lambda v: None if v is None else [max(0.0, v - 0.2), min(1.0, v + 0.2)]  # noqa: E731
    return {"n": n, "agreement": agreement, "ci95": ci(agreement),
            "healthy": {"n": healthy[0], "agreement": healthy[1], "ci95": ci(healthy[1])},
            "answered_in": {"fr": n}, "flags": dict(zip(("echo", "loop", "empty", "truncated"), flags)),
            "confusion": {"scored": n, "lpr": lpr, "lpr_ci95": ci(lpr) if lcb_ci else None, "acc": lpr, "wpr": None,
                          "lcpr": lpr}}


def _not_identifiable(n):
    return _row(n, None, (n, None), None, (0.1, 0.0, 0.0, 0.5)) | {"note": NOT_IDENTIFIABLE}


def _card(tmp_path, name, rows, prompt_set="hplt"):
    (tmp_path / name).mkdir()
    return {"model": f"hf:/models/{name}", "set": prompt_set, "agreement": rows, "_dir": str(tmp_path / name)}


def test_generation_plots_from_hand_made_cards(tmp_path):
    from eval.report import _matrix, generation_rows, plots

    a = _card(tmp_path, "a", {"fr": _row(10, 0.8, (8, 0.9), 0.7, (0.2, 0.1, 0.0, 0.3)), "ak": _not_identifiable(10)})
    b = _card(tmp_path, "b", {"fr": _row(10, 0.5, (0, None), None, (1.0, 0.0, 0.0, 0.0), lcb_ci=False),
                              "ak": _not_identifiable(10)})
    other = _card(tmp_path, "c", {"de": _row(4, 1.0, (4, 1.0), 1.0, (0.0, 0.0, 0.0, 0.0))}, prompt_set="mt_bench_x")
    written = plots([a, b, other], tmp_path / "plots")
    assert [p.name for p in written] == ["hplt_agreement.png", "hplt_confusion.png", "hplt_health.png",
                                         "mt_bench_x_agreement.png", "mt_bench_x_confusion.png",
                                         "mt_bench_x_health.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in written)

    rows = lambda c: c["agreement"]  # noqa: E731
    langs, value, err, gaps = _matrix([a, b], rows, lambda r: r["agreement"])
    assert langs == ["fr", "ak"] and value[0, 0] == 0.8 and err[:, 0, 0].round(3).tolist() == [0.2, 0.2]
    assert list(gaps[:, 1]) == ["n/i", "n/i"] and str(value[0, 1]) == "nan"  # left out and labelled
    _, healthy, _, gaps = _matrix([a, b], rows, lambda r: r["healthy"]["agreement"], lambda r: r["healthy"]["ci95"])
    assert healthy[0, 0] == 0.9 and gaps[1, 0] == "none" and gaps[1, 1] == "n/i"  # b: no healthy answer in fr
    _, lpr, lpr_err, _ = _matrix([a, b], rows, lambda r: r["confusion"]["lpr"], lambda r: r["confusion"]["lpr_ci95"])
    assert lpr[0, 0] == 0.7 and lpr_err[:, 0, 0].round(3).tolist() == [0.2, 0.2]

    head, table = generation_rows([a, b])
    ak = next(r for r in table if r[1] == "ak")
    assert ak[head.index("agreement [95%]")] == NOT_IDENTIFIABLE and ak[head.index("echo")] == "0.10"
