"""English text rules in one place: sentences and what may be quoted (sentences.py), capital-letter entity guesses
(entities.py), the BM25 vocabulary (tokens.py), and the word lists more than one rule module reads (words.py). The rules of one task keep their own
tables beside them (qa/verdict_words.py, qa/list_words.py, qa/follow_ups.py)."""
