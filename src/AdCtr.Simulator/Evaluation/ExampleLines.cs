namespace AdCtr.Simulator.Evaluation;

/// <summary>
/// The line number of every example of a pass, stored as runs: an example's line is its 0-based index plus an
/// offset that changes only where lines were skipped (empty or malformed), so a clean file needs one run and a
/// damaged one a run per skip. Lets the online evaluator place the holdout (the last fraction of the file's
/// lines) after the pass, once the reader knows how many lines there were, instead of counting them first.
/// </summary>
internal sealed class ExampleLines
{
    private readonly List<(long FirstExample, long Offset)> _runs = [];
    private long _count;
    private long _offset = long.MinValue;

    /// <summary>Number of examples recorded.</summary>
    public long Count => _count;

    /// <summary>Records the line of the next example (lines strictly increase).</summary>
    public void Add(long line)
    {
        var offset = line - _count;
        if (offset != _offset)
        {
            _runs.Add((_count, offset));
            _offset = offset;
        }

        _count++;
    }

    /// <summary>The index of the first example on line <paramref name="line"/> or later; <see cref="Count"/> if none.</summary>
    public long FirstExampleAtOrAfter(long line)
    {
        // Lines increase with the example index, so the answer is found by a binary search over the runs.
        var lo = 0L;
        var hi = _count;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            if (LineOf(mid) >= line)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>The line of example <paramref name="example"/> (0-based, less than <see cref="Count"/>).</summary>
    public long LineOf(long example)
    {
        var lo = 0;
        var hi = _runs.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_runs[mid].FirstExample <= example)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return example + _runs[lo].Offset;
    }
}
