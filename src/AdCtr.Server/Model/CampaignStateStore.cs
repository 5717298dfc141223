using System.Collections.Concurrent;
using AdCtr.Grains.Runtime;
using AdCtr.Learning.Ftrl;

namespace AdCtr.Server.Model;

/// <summary>
/// Grain storage of campaign states: a deactivated campaign's model and statistics are kept as compact
/// bytes (12 bytes per coordinate instead of a live hash table), and brought back on reactivation. Durability
/// across restarts is the job of model snapshots, which read every stored state through <see cref="Entries"/>.
/// </summary>
internal sealed class CampaignStateStore : IGrainStorage
{
    private const int FormatVersion = 1;
    private readonly ConcurrentDictionary<string, byte[]> _states = new(StringComparer.Ordinal);

    public int Count => _states.Count;

    public long Bytes
    {
        get
        {
            long total = 0;
            foreach (var (_, bytes) in _states)
            {
                total += bytes.Length;
            }

            return total;
        }
    }

    /// <summary>Every stored state (campaign id, state) decoded; for snapshots.</summary>
    public IEnumerable<CampaignState> Entries()
    {
        foreach (var (_, bytes) in _states)
        {
            yield return Decode(bytes);
        }
    }

    public bool Contains(string campaignId) => _states.ContainsKey(campaignId);

    public void Put(CampaignState state) => _states[state.Id] = Encode(state);

    public void Clear() => _states.Clear();

    public Task ReadStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        if (_states.TryGetValue(grainId.Key.ToString(), out var bytes))
        {
            grainState.State = (T)(object)Decode(bytes);
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var state = (CampaignState)(object)grainState.State!;
        _states[grainId.Key.ToString()] = Encode(state);
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        _states.TryRemove(grainId.Key.ToString(), out _);
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    internal static byte[] Encode(CampaignState state)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer))
        {
            w.Write(FormatVersion);
            w.Write(state.Id);
            var s = state.Stats;
            w.Write(s.Examples);
            w.Write(s.Weight);
            w.Write(s.Clicks);
            w.Write(s.SumPredicted);
            w.Write(s.LogLossSum);
            w.Write(s.LastUpdateUnixMs);
            var model = state.Model;
            w.Write(model is not null);
            if (model is not null)
            {
                var p = model.Parameters;
                w.Write(p.Alpha);
                w.Write(p.Beta);
                w.Write(p.L1);
                w.Write(p.L2);
                w.Write(model.AdmissionProbability);
                w.Write(model.Coordinates);
                var writer = w;
                model.ForEach(ref writer, static (ref BinaryWriter writer, int index, float z, float n) =>
                {
                    writer.Write(index);
                    writer.Write(z);
                    writer.Write(n);
                });
            }
        }

        return buffer.ToArray();
    }

    internal static CampaignState Decode(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        var version = r.ReadInt32();
        if (version != FormatVersion)
        {
            throw new InvalidDataException("campaign state format " + version + " is not supported");
        }

        var state = new CampaignState { Id = r.ReadString() };
        state.Stats = new ProgressiveStats
        {
            Examples = r.ReadInt64(),
            Weight = r.ReadDouble(),
            Clicks = r.ReadDouble(),
            SumPredicted = r.ReadDouble(),
            LogLossSum = r.ReadDouble(),
            LastUpdateUnixMs = r.ReadInt64(),
        };
        if (r.ReadBoolean())
        {
            var parameters = new FtrlParameters(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());
            var admission = r.ReadDouble();
            var count = r.ReadInt64();
            var model = new SparseFtrlModel(parameters, (int)Math.Min(count * 2, 1 << 26), admission);
            for (long i = 0; i < count; i++)
            {
                model.SetState(r.ReadInt32(), r.ReadSingle(), r.ReadSingle());
            }

            state.Model = model;
        }

        return state;
    }
}
