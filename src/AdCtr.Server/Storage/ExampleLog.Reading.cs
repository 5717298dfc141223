namespace AdCtr.Server.Storage;

public sealed partial class ExampleLog
{
    /// <summary>
    /// Enumerates the records from <paramref name="from"/> (a position this log returned: a record's position or
    /// a range end) up to the <see cref="EndPosition"/> at the time of the call, in order, across segments,
    /// through one reusable buffer (<see cref="LogRecord.Payload"/> is valid until the next MoveNext).
    /// </summary>
    /// <param name="skipCorrupt">
    /// False (default): a damaged record or a missing range throws <see cref="LogCorruptionException"/> naming the
    /// segment file and offset; the records before it have been yielded, nothing after it is. True: the rest of
    /// the damaged segment (or the gap) is skipped, <paramref name="onCorruption"/> is told, reading goes on with
    /// the next segment. Record boundaries cannot be found again inside a damaged segment, so its remaining records
    /// are lost to this reader.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> is past the end, or before the oldest segment still kept.</exception>
    public IEnumerable<LogRecord> ReadFrom(LogPosition from, bool skipCorrupt = false, Action<LogCorruption>? onCorruption = null)
    {
        var end = EndPosition.Value;
        if (from.Value < 0 || from.Value > end)
        {
            throw new ArgumentOutOfRangeException(nameof(from), from.Value, "The log ends at position " + end + ".");
        }

        var segments = ListSegmentFiles(_directory);
        var index = -1;
        for (var i = 0; i < segments.Count; i++)
        {
            if (segments[i].FirstPosition <= from.Value)
            {
                index = i;
            }
        }

        if (from.Value == end)
        {
            return [];
        }

        if (index < 0)
        {
            var oldest = segments.Count > 0 ? segments[0].FirstPosition : end;
            throw new ArgumentOutOfRangeException(nameof(from), from.Value, "Position " + from + " precedes the oldest kept segment (starts at " + oldest + "); retention deleted it.");
        }

        return ReadSegments(segments, index, from.Value, end, skipCorrupt, onCorruption);
    }

    private static IEnumerable<LogRecord> ReadSegments(List<(string Path, long FirstPosition)> segments, int index, long from, long end, bool skipCorrupt, Action<LogCorruption>? onCorruption)
    {
        var expected = from;
        for (var i = index; i < segments.Count; i++)
        {
            var (path, first) = segments[i];
            if (first >= end)
            {
                yield break;
            }

            if (i > index && first != expected)
            {
                var (previousPath, previousFirst) = segments[i - 1];
                var gap = new LogCorruption(previousPath, expected - previousFirst, new LogPosition(expected), LogDamageKind.MissingData, first - expected);
                if (!skipCorrupt)
                {
                    throw new LogCorruptionException(gap);
                }

                onCorruption?.Invoke(gap);
                expected = first;
            }

            using var reader = new SegmentReader(path, expected - first, end - first);
            // Bounded: each record read advances the offset by at least 9 bytes towards reader.Limit.
            while (true)
            {
                if (reader.TryReadNext(out var offset, out var payload, out var continues, out var damage))
                {
                    yield return new LogRecord(new LogPosition(first + offset), payload, endsBatch: !continues);
                    continue;
                }

                if (damage != LogDamageKind.None)
                {
                    var corruption = new LogCorruption(path, offset, new LogPosition(first + offset), damage, reader.Limit - offset);
                    if (!skipCorrupt)
                    {
                        throw new LogCorruptionException(corruption);
                    }

                    onCorruption?.Invoke(corruption);
                }

                break;
            }

            expected = first + reader.Limit;
        }
    }
}
