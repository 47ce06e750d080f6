"""Regenerate ``background_df.json``: document frequencies of general news.

The seed terms are the seed's words weighted against this background, so that
"said" or "minister" weigh little and a rare surname or a ship's name a lot. The source is
the article bodies of the AEB extraction benchmark (181 English news pages of all
kinds), which the repository already ships in ``tests/fixtures/extraction/aeb/``.
It holds no relevance-labelled item, so it cannot leak the evaluation.

    .venv/bin/python -m seedwatch.relevance.background
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from seedwatch.relevance.profile import _BACKGROUND_FILE, content_tokens

AEB_GROUND_TRUTH = Path(__file__).parents[2] / "tests/fixtures/extraction/aeb/ground-truth.json"


def build_background(texts: list[str], *, min_df: int = 2) -> dict[str, object]:
    """Document frequencies of content tokens (dropping hapaxes to keep the file small)."""
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(content_tokens(text)))
    return {
        "source": "AEB extraction benchmark article bodies (tests/fixtures/extraction/aeb)",
        "documents": len(texts),
        "df": {t: n for t, n in sorted(df.items()) if n >= min_df},
    }


def main() -> None:
    truth = json.loads(AEB_GROUND_TRUTH.read_text(encoding="utf-8"))
    texts = [entry.get("articleBody") or "" for entry in truth.values()]
    _BACKGROUND_FILE.write_text(json.dumps(build_background(texts), ensure_ascii=False, indent=0) + "\n")
    print(f"wrote {_BACKGROUND_FILE} from {len(texts)} documents")


if __name__ == "__main__":
    main()
