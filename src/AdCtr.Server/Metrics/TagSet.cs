using System.Collections.Concurrent;

namespace AdCtr.Server.Metrics;

/// <summary>The tags of one series, sorted by key (ordinal), with a precomputed hash.</summary>
internal sealed class TagSet
{
    public static readonly TagSet Empty = new([]);

    public TagSet(KeyValuePair<string, object?>[] sortedTags)
    {
        Tags = sortedTags;
        Hash = TagSetComparer.ComputeHash(sortedTags);
    }

    public KeyValuePair<string, object?>[] Tags { get; }

    public int Hash { get; }
}

/// <summary>Sorted tags as the measurement callback sees them; looks a <see cref="TagSet"/> up without allocating.</summary>
internal readonly ref struct TagSpan(ReadOnlySpan<KeyValuePair<string, object?>> sortedTags)
{
    public ReadOnlySpan<KeyValuePair<string, object?>> Tags { get; } = sortedTags;
}

/// <summary>Equality of tag sets by key (ordinal) and value (<see cref="object.Equals(object, object)"/>), usable as an alternate lookup from <see cref="TagSpan"/>.</summary>
internal sealed class TagSetComparer : IEqualityComparer<TagSet>, IAlternateEqualityComparer<TagSpan, TagSet>
{
    public static readonly TagSetComparer Instance = new();

    [ThreadStatic]
    private static KeyValuePair<string, object?>[]? t_sortBuffer;

    public static int ComputeHash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = new HashCode();
        foreach (var tag in tags)
        {
            hash.Add(tag.Key, StringComparer.Ordinal);
            hash.Add(tag.Value);
        }

        return hash.ToHashCode();
    }

    /// <summary>The tags sorted by key: the span itself when already sorted, else a copy in a per-thread buffer (valid until the next call on this thread).</summary>
    public static ReadOnlySpan<KeyValuePair<string, object?>> Sort(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var sorted = true;
        for (var i = 1; i < tags.Length; i++)
        {
            if (string.CompareOrdinal(tags[i - 1].Key, tags[i].Key) > 0)
            {
                sorted = false;
                break;
            }
        }

        if (sorted)
        {
            return tags;
        }

        var buffer = t_sortBuffer;
        if (buffer is null || buffer.Length < tags.Length)
        {
            t_sortBuffer = buffer = new KeyValuePair<string, object?>[Math.Max(8, tags.Length)];
        }

        tags.CopyTo(buffer);
        // Insertion sort: tag lists are short (a handful of keys).
        for (var i = 1; i < tags.Length; i++)
        {
            var item = buffer[i];
            var j = i - 1;
            while (j >= 0 && string.CompareOrdinal(buffer[j].Key, item.Key) > 0)
            {
                buffer[j + 1] = buffer[j];
                j--;
            }

            buffer[j + 1] = item;
        }

        return buffer.AsSpan(0, tags.Length);
    }

    public bool Equals(TagSet? x, TagSet? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.Hash == y.Hash && Equal(x.Tags, y.Tags));

    public int GetHashCode(TagSet obj) => obj.Hash;

    public bool Equals(TagSpan alternate, TagSet other) => Equal(alternate.Tags, other.Tags);

    public int GetHashCode(TagSpan alternate) => ComputeHash(alternate.Tags);

    public TagSet Create(TagSpan alternate) => new(alternate.Tags.ToArray());

    private static bool Equal(ReadOnlySpan<KeyValuePair<string, object?>> a, ReadOnlySpan<KeyValuePair<string, object?>> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length; i++)
        {
            if (!string.Equals(a[i].Key, b[i].Key, StringComparison.Ordinal) || !Equals(a[i].Value, b[i].Value))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Series of one instrument keyed by tag set.</summary>
internal sealed class SeriesMap<TSeries>
    where TSeries : class
{
    private readonly ConcurrentDictionary<TagSet, TSeries> _map = new(TagSetComparer.Instance);
    private readonly ConcurrentDictionary<TagSet, TSeries>.AlternateLookup<TagSpan> _lookup;

    public SeriesMap()
    {
        _lookup = _map.GetAlternateLookup<TagSpan>();
    }

    public int Count => _map.Count;

    public bool TryGet(ReadOnlySpan<KeyValuePair<string, object?>> sortedTags, out TSeries? series) =>
        _lookup.TryGetValue(new TagSpan(sortedTags), out series);

    public TSeries GetOrAdd(TagSet tags, TSeries series) => _map.GetOrAdd(tags, series);

    public bool TryRemove(TagSet tags) => _map.TryRemove(tags, out _);

    public ICollection<KeyValuePair<TagSet, TSeries>> Snapshot() => _map.ToArray();
}
