"""Matching members to volunteer tasks (DESIGN §5), one module per job:

- `facts`: what matching knows about a task and a member (pure), and `gather`: reading those facts
  from the database (the second step's completion included);
- `score`: the hard filters and the score with its reasons in Chinese: the one definition;
- `bound`: the score's upper bound from an index row, as one linear form (`Terms`) that the tight
  Python loop (`QuickJudge`) and its SQL form (`sql_bound`, in the index query) both take their
  coefficients from;
- `regions`: which parts of the skill-location index a search reads, nearest first;
- `query`: the index query (SQL), built and compiled once per shape, and `reads`: how reads reach
  the database;
- `search`: the organizer's candidate list (`suggest`);
- `near_me`: the member's side ("tasks near me", why a member cannot be invited).

Imports nothing itself, so that its modules can import each other without a cycle through it.
"""
