using System.Text.Json;
using System.Text.Json.Serialization;

namespace AdCtr.Learning.Features;

/// <summary>Which model(s) a field or cross feeds.</summary>
[Flags]
public enum ModelPart
{
    None = 0,
    Global = 1,
    Campaign = 2,
    Both = Global | Campaign,
}

/// <summary>How a field's value becomes a feature.</summary>
public enum FieldKind
{
    /// <summary>Hash of <c>field=value</c>, value 1.</summary>
    Categorical,

    /// <summary>
    /// An integer count bucketed as floor(ln(x)^2) when x &gt; 2 and kept as is otherwise (Juan et al., the
    /// Criteo 2014 winning solution), then hashed as a categorical token. A non-integer value is hashed as is.
    /// </summary>
    Count,

    /// <summary>A real value on one coordinate, the hash of the field name, optionally transformed.</summary>
    Numeric,

    /// <summary>
    /// The hour of day (00..23, UTC) of the example's timestamp, encoded as a category. Filled by readers that have
    /// a timestamp column (CSV with <see cref="FeatureSpec.Timestamp"/>), not read from a column of its own.
    /// </summary>
    HourOfDay,

    /// <summary>The day of week (mon..sun, UTC) of the example's timestamp, encoded as a category; like <see cref="HourOfDay"/>.</summary>
    DayOfWeek,
}

/// <summary>Transform of a <see cref="FieldKind.Numeric"/> value.</summary>
public enum NumericTransform
{
    None,

    /// <summary>sign(x) * ln(1 + |x|).</summary>
    Log1p,
}

public sealed class FieldSpec
{
    public required string Name { get; init; }
    public FieldKind Kind { get; set; } = FieldKind.Categorical;
    public NumericTransform Transform { get; set; } = NumericTransform.None;
    public ModelPart Models { get; set; } = ModelPart.Global;
}

public sealed class CrossSpec
{
    public required string[] Fields { get; init; }
    public ModelPart Models { get; set; } = ModelPart.Global;
}

/// <summary>
/// The declaration of one schema's features: its fields, how each is encoded, which model part it feeds,
/// and the crosses of two or three fields. Loaded from <c>config/features.*.json</c>.
/// </summary>
public sealed class FeatureSpec
{
    public const int MinBits = 18;
    public const int MaxBits = 28;

    public string Name { get; set; } = "unnamed";

    /// <summary>Seed of MurmurHash3 x86_32 for every feature hash of this spec.</summary>
    public uint HashSeed { get; set; } = 0x5EED_AD01;

    /// <summary>Number of hash bits: features land in 2^Bits slots.</summary>
    public int Bits { get; set; } = 22;

    /// <summary>CSV logs: the column holding the label (0/1 or true/false). Ignored by the other formats.</summary>
    public string? Label { get; set; }

    /// <summary>
    /// CSV logs: the column holding the example time (ISO 8601, <c>yyyy-MM-dd HH:mm:ss</c> in UTC, or Unix seconds);
    /// optional. Ignored by the other formats.
    /// </summary>
    public string? Timestamp { get; set; }

    /// <summary>The field whose value selects the campaign model (GLMix random effect); null for none.</summary>
    public string? CampaignField { get; init; }

    public FieldSpec[] Fields { get; set; } = [];

    public CrossSpec[] Crosses { get; set; } = [];

    /// <summary>Index of a field by name, or -1.</summary>
    public int IndexOf(string name)
    {
        for (var i = 0; i < Fields.Length; i++)
        {
            if (string.Equals(Fields[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Returns a copy of this spec with another number of bits.</summary>
    public FeatureSpec WithBits(int bits) => new()
    {
        Label = Label,
        Timestamp = Timestamp,
        Name = Name,
        HashSeed = HashSeed,
        Bits = bits,
        CampaignField = CampaignField,
        Fields = Fields,
        Crosses = Crosses,
    };

    /// <summary>Returns a copy of this spec with no crosses (to measure what the crosses buy).</summary>
    public FeatureSpec WithoutCrosses() => new()
    {
        Label = Label,
        Timestamp = Timestamp,
        Name = Name,
        HashSeed = HashSeed,
        Bits = Bits,
        CampaignField = CampaignField,
        Fields = Fields,
        Crosses = [],
    };

    /// <summary>Checks the spec; throws <see cref="FeatureSpecException"/> naming the first problem.</summary>
    public void Validate()
    {
        if (Bits is < MinBits or > MaxBits)
        {
            throw new FeatureSpecException($"bits must be in {MinBits}..{MaxBits}, got {Bits}");
        }

        if (Fields.Length == 0)
        {
            throw new FeatureSpecException("the spec declares no fields");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in Fields)
        {
            if (string.IsNullOrWhiteSpace(field.Name))
            {
                throw new FeatureSpecException("a field has an empty name");
            }

            if (!seen.Add(field.Name))
            {
                throw new FeatureSpecException($"field '{field.Name}' is declared twice");
            }

            if (field.Models == ModelPart.None)
            {
                throw new FeatureSpecException($"field '{field.Name}' feeds no model");
            }
        }

        foreach (var cross in Crosses)
        {
            if (cross.Fields is null || cross.Fields.Length is < 2 or > 3)
            {
                throw new FeatureSpecException("a cross must name two or three fields");
            }

            foreach (var name in cross.Fields)
            {
                if (IndexOf(name) < 0)
                {
                    throw new FeatureSpecException($"cross {string.Join(" x ", cross.Fields)} names unknown field '{name}'");
                }
            }
        }

        if (CampaignField is not null && IndexOf(CampaignField) < 0)
        {
            throw new FeatureSpecException($"campaignField '{CampaignField}' is not a declared field");
        }
    }

    /// <summary>
    /// A 64-bit fingerprint of everything that changes feature indices (seed, bits, fields, kinds, parts,
    /// crosses). Recorded in snapshots: a model is never loaded under a spec that would re-map its weights.
    /// </summary>
    public ulong Fingerprint()
    {
        var text = new System.Text.StringBuilder();
        text.Append("v1|").Append(HashSeed).Append('|').Append(Bits).Append('|').Append(CampaignField).Append('|');
        foreach (var f in Fields)
        {
            text.Append(f.Name).Append(':').Append((int)f.Kind).Append(':').Append((int)f.Transform).Append(':').Append((int)f.Models).Append(';');
        }

        text.Append('|');
        foreach (var c in Crosses)
        {
            text.Append(string.Join('*', c.Fields)).Append(':').Append((int)c.Models).Append(';');
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(text.ToString());
        ulong lo = Hashing.MurmurHash3.Hash32(bytes, 0x9747b28c);
        ulong hi = Hashing.MurmurHash3.Hash32(bytes, 0x1b873593);
        return (hi << 32) | lo;
    }

    public static FeatureSpec Parse(string json)
    {
        FeatureSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize(json, FeatureSpecJsonContext.Default.FeatureSpec);
        }
        catch (JsonException e)
        {
            throw new FeatureSpecException($"invalid feature spec JSON: {e.Message}", e);
        }

        if (spec is null)
        {
            throw new FeatureSpecException("the feature spec is empty");
        }

        spec.Validate();
        return spec;
    }

    public static FeatureSpec Load(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FeatureSpecException($"cannot read feature spec '{path}': {e.Message}", e);
        }

        try
        {
            return Parse(json);
        }
        catch (FeatureSpecException e)
        {
            throw new FeatureSpecException($"{path}: {e.Message}", e);
        }
    }
}

public sealed class FeatureSpecException : Exception
{
    public FeatureSpecException(string message)
        : base(message)
    {
    }

    public FeatureSpecException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(FeatureSpec))]
internal sealed partial class FeatureSpecJsonContext : JsonSerializerContext;
