using System.Globalization;

namespace AdCtr.Grains.Runtime;

/// <summary>
/// The key of a grain within its type: either an integer or a string (Orleans' IGrainWithIntegerKey /
/// IGrainWithStringKey). A long key and a string key never compare equal, even "5" and 5.
/// </summary>
public readonly record struct GrainKey
{
    private GrainKey(long longKey, string? stringKey)
    {
        LongKey = longKey;
        StringKey = stringKey;
    }

    /// <summary>The integer key; 0 when the key is a string.</summary>
    public long LongKey { get; }

    /// <summary>The string key; null when the key is an integer.</summary>
    public string? StringKey { get; }

    /// <summary>True when the key is an integer.</summary>
    public bool IsLongKey => StringKey is null;

    public static GrainKey FromLong(long key) => new(key, null);

    public static GrainKey FromString(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new(0, key);
    }

    public static implicit operator GrainKey(long key) => FromLong(key);

    public static implicit operator GrainKey(string key) => FromString(key);

    public bool Equals(GrainKey other) =>
        LongKey == other.LongKey && string.Equals(StringKey, other.StringKey, StringComparison.Ordinal);

    // In-process hashing only (dictionary buckets); string hashing is randomised per process, which is fine here.
    public override int GetHashCode() =>
        StringKey is null ? LongKey.GetHashCode() : StringKey.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => StringKey ?? LongKey.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The address of a grain: its registered type name and its key.</summary>
public readonly record struct GrainId(string Type, GrainKey Key)
{
    public override string ToString() => Type + "/" + Key.ToString();
}
