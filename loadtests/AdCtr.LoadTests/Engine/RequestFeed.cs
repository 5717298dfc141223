namespace AdCtr.LoadTests.Engine;

/// <summary>
/// The request sequence of a scenario, fixed before the run: request n is <c>Sequence[n % Length]</c>, so no
/// random numbers are drawn and no bodies are built while load is applied.
/// </summary>
public sealed class RequestFeed
{
    private readonly LoadRequest[] _sequence;

    public RequestFeed(LoadRequest[] sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentOutOfRangeException.ThrowIfZero(sequence.Length);
        _sequence = sequence;
    }

    public int Length => _sequence.Length;

    public LoadRequest this[long index] => _sequence[(int)(index % _sequence.Length)];

    /// <summary>How many times each request kind appears in the sequence (the realised mix).</summary>
    public IReadOnlyDictionary<string, int> KindCounts()
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var request in _sequence)
        {
            counts[request.Kind] = counts.GetValueOrDefault(request.Kind) + 1;
        }

        return counts;
    }
}
