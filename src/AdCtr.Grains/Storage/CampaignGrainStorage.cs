using System.Collections.Concurrent;
using System.Text;
using Orleans.Storage;

namespace AdCtr.Grains.Storage;

/// <summary>
/// Orleans grain storage (<see cref="IGrainStorage"/>, registered as <see cref="ProviderName"/>) for campaign states,
/// over a directory of the server's data directory: one file per campaign in the compact format of
/// <see cref="CampaignStateCodec"/> (12 bytes per coordinate instead of a live hash table), written through a
/// temporary file and a rename, so a reader sees the old or the new state, never a mix.
/// <para>
/// It holds the states of deactivated campaigns while the process runs; it is not the durability of the model:
/// the example log and the model snapshots are (a state written here is not fsynced, and recovery rebuilds this
/// directory from the newest snapshot and the log). An in-memory index keeps each stored campaign's size and
/// statistics, so totals over every campaign need no file reads.
/// </para>
/// </summary>
public sealed class CampaignGrainStorage : IGrainStorage, IDisposable
{
    /// <summary>The name campaign grains use in <c>[PersistentState(..., ProviderName)]</c>.</summary>
    public const string ProviderName = "adctr-campaigns";

    private const string Extension = ".state";
    private readonly ConcurrentDictionary<string, StoredCampaign> _index = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _unwritten = new(StringComparer.Ordinal);
    private readonly bool _deleteOnDispose;
    private readonly Lazy<bool> _prepared;
    private long _epoch;

    /// <param name="directory">Created if missing, at the first use (not here: a server checks its data directory
    /// before it starts, and constructing the services must not create anything in it). Starts empty: whatever an
    /// earlier process left there is removed.</param>
    /// <param name="deleteOnDispose">Remove the directory when disposed (a directory of this process's own).</param>
    public CampaignGrainStorage(string directory, bool deleteOnDispose = false)
    {
        _deleteOnDispose = deleteOnDispose;
        Directory = Path.GetFullPath(directory);
        _prepared = new Lazy<bool>(Prepare, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private bool Prepare()
    {
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory))
        {
            File.Delete(file);
        }

        return true;
    }

    private void EnsurePrepared() => _ = _prepared.Value;

    public string Directory { get; }

    /// <summary>Campaigns with a stored state.</summary>
    public int Count => _index.Count;

    /// <summary>Bytes of every stored state.</summary>
    public long Bytes
    {
        get
        {
            long total = 0;
            foreach (var (_, stored) in _index)
            {
                total += stored.Bytes;
            }

            return total;
        }
    }

    /// <summary>
    /// Increases whenever a reload replaces stored states. An activation that read its state in an older epoch
    /// reads it again, so it cannot resurrect a state a reload replaced while the activation was reading it.
    /// </summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>The stored campaigns with their statistics (no file reads).</summary>
    public IEnumerable<KeyValuePair<string, StoredCampaign>> Index => _index;

    public bool Contains(string campaignId) => _index.ContainsKey(campaignId);

    /// <summary>The stored encoded state of a campaign, or null.</summary>
    public byte[]? ReadBytes(string campaignId)
    {
        if (_unwritten.TryGetValue(campaignId, out var kept))
        {
            return kept;
        }

        EnsurePrepared();
        try
        {
            return File.ReadAllBytes(PathOf(campaignId));
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Stores encoded state for a campaign (reload).</summary>
    public void WriteBytes(string campaignId, byte[] encoded)
    {
        var (stats, coordinates) = CampaignStateCodec.DecodeHeader(encoded);
        WriteFile(campaignId, encoded);
        _index[campaignId] = new StoredCampaign(SiloModel.KeyOf(campaignId), encoded.Length, coordinates, stats);
    }

    /// <summary>Removes a campaign's stored state (reload of a snapshot that does not have it).</summary>
    public void Delete(string campaignId)
    {
        EnsurePrepared();
        _unwritten.TryRemove(campaignId, out _);
        File.Delete(PathOf(campaignId));
        _index.TryRemove(campaignId, out _);
    }

    /// <summary>Starts a reload: see <see cref="Epoch"/>.</summary>
    public void BeginReload() => Interlocked.Increment(ref _epoch);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var id = KeyOf(grainId);
        var epoch = Epoch; // before the read: see OnActivateAsync of the campaign grain
        var bytes = ReadBytes(id);
        if (bytes is not null)
        {
            var state = CampaignStateCodec.Decode(bytes);
            if (!string.Equals(state.Id, id, StringComparison.Ordinal))
            {
                throw new InvalidDataException("the stored state " + PathOf(id) + " belongs to campaign '" + state.Id + "', not '" + id + "'");
            }

            grainState.State = As<T>(state);
            grainState.RecordExists = true;
            grainState.ETag = epoch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else
        {
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var state = grainState.State as CampaignState ?? throw new NotSupportedException(nameof(CampaignGrainStorage) + " stores " + nameof(CampaignState) + " only, not " + typeof(T).Name);
        var bytes = CampaignStateCodec.Encode(state);
        var id = KeyOf(grainId);
        WriteFile(id, bytes);
        _index[id] = new StoredCampaign(SiloModel.KeyOf(id), bytes.Length, state.Model?.Coordinates ?? 0, state.Stats.Clone());
        grainState.RecordExists = true;
        grainState.ETag = Epoch.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Delete(KeyOf(grainId));
        grainState.RecordExists = false;
        grainState.ETag = null;
        return Task.CompletedTask;
    }

    /// <summary>
    /// The file of a campaign: its id with bytes outside [A-Za-z0-9_-] escaped as %XX (so no id can leave the
    /// directory); ids whose escaped form would be too long for a file name use a 64-bit hash of the id (the
    /// state records the id, checked on read).
    /// </summary>
    public string PathOf(string campaignId)
    {
        var escaped = new StringBuilder(campaignId.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(campaignId))
        {
            if (b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'_' or (byte)'-')
            {
                escaped.Append((char)b);
            }
            else
            {
                escaped.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        var name = escaped.Length <= 200 ? escaped.ToString() : "h" + SiloModel.KeyOf(campaignId).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        return Path.Combine(Directory, name + Extension);
    }

    /// <summary>
    /// Writes a state file. When the file system refuses (no space, I/O error) the state is kept in memory instead
    /// (<see cref="UnwrittenCount"/>) and written again with the campaign's next state: a deactivation must not lose
    /// a model that only this process holds, and the model's durability is the log and the snapshots anyway.
    /// </summary>
    private void WriteFile(string campaignId, byte[] bytes)
    {
        EnsurePrepared();
        var path = PathOf(campaignId);
        var temp = path + ".tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
            _unwritten.TryRemove(campaignId, out _);
        }
        catch (IOException)
        {
            _unwritten[campaignId] = bytes;
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // The temporary file is replaced by the next write of this campaign.
            }
        }
    }

    public void Dispose()
    {
        if (_deleteOnDispose && _prepared.IsValueCreated)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // Left behind in the temporary directory; nothing reads it again.
            }
        }
    }

    /// <summary>States kept in memory because their file could not be written.</summary>
    public int UnwrittenCount => _unwritten.Count;

    private static string KeyOf(GrainId grainId) => grainId.Key.ToString();

    private static T As<T>(CampaignState state) =>
        state is T typed ? typed : throw new NotSupportedException(nameof(CampaignGrainStorage) + " stores " + nameof(CampaignState) + " only, not " + typeof(T).Name);
}

/// <summary>What the storage index keeps of a stored campaign (with its 64-bit key, hashed once, for view look-ups).</summary>
public readonly record struct StoredCampaign(ulong Key, long Bytes, long Coordinates, ProgressiveStats Stats);
