"""Stories as real-world events: one story per event, whoever reports it (docs/stories.md).

features    the terms of an article that identify its event (title, lead, names, numbers)
events      online assignment of articles to event stories (TF-IDF centroids, term postings)
metrics     B-cubed and pairwise precision, recall and F1 of a clustering
dataset     JSON-lines articles for ``seedwatch cluster`` and ``seedwatch eval stories``
"""
