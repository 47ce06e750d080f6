"""What every analysis worker needs, loaded once by the workers' fork server.

The fork server that ``seedwatch.workers`` starts imports this module and forks each
worker from itself, so the workers share what is loaded here instead of each loading it
on its first article. Nothing else imports it: loading it takes about 2 s.
"""

import datasketch  # noqa: F401 - seedwatch.dedup imports it lazily, for its callers' sake (1 s)

import seedwatch.analysis  # noqa: F401 - trafilatura and the rest of the extractors
from extractors.language import load_model
from seedwatch.relevance.induce import world_matcher
from seedwatch.relevance.resources import lexicon

load_model()  # py3langid reads its model on first use (0.3 s)
# The generic relevance resources, the same for every topic: the gazetteer, the relations
# lexicon and every country's names compiled (0.7 s); a worker then only draws its topics.
lexicon()
world_matcher()
