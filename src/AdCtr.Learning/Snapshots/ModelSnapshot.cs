using AdCtr.Learning.Ftrl;

namespace AdCtr.Learning.Snapshots;

/// <summary>One campaign model inside a snapshot.</summary>
public sealed record CampaignSnapshot(ulong Key, string Id, SparseFtrlModel Model);

/// <summary>
/// Everything needed to restore a GLMix model exactly: the global model, every campaign model, the hash
/// function and spec it was trained under, the example-log position it includes, and named extension
/// blobs for state owned by other layers (calibrators, statistics).
/// </summary>
public sealed class ModelSnapshot
{
    public required uint HashSeed { get; init; }

    public int HashFunctionId { get; init; } = Hashing.MurmurHash3.FunctionId;

    public required ulong SpecFingerprint { get; init; }

    /// <summary>Example-log position whose examples are all included in this model (caller-defined).</summary>
    public long LogPosition { get; init; }

    public long CreatedUnixMs { get; init; }

    /// <summary>Model version number (monotone per server).</summary>
    public long Version { get; init; }

    public required DenseFtrlModel Global { get; init; }

    public IReadOnlyList<CampaignSnapshot> Campaigns { get; init; } = [];

    public IReadOnlyDictionary<string, byte[]> Extensions { get; init; } = new Dictionary<string, byte[]>();
}

/// <summary>A snapshot file that is truncated, corrupt, of another format or of an incompatible model.</summary>
public sealed class SnapshotFormatException(string message) : Exception(message);
