using AdCtr.Learning.Ftrl;
using Orleans.Concurrency;

namespace AdCtr.Grains.GlobalSync;

/// <summary>
/// <see cref="IGlobalModelGrain"/>: the sum of every push in a dense (z, n) table, and the last
/// <see cref="RetainedPushes"/> pushes for callers that are behind (a caller further behind gets the whole table). Its
/// state is memory only: a new activation (its silo died) starts empty under a new epoch, asks the first silo that
/// had synced for its table as the base, and sends that to the others.
/// </summary>
public sealed class GlobalModelGrain(TimeProvider time) : Grain, IGlobalModelGrain
{
    /// <summary>Pushes kept for callers that are behind (about a minute at one exchange per silo per second, 3 silos).</summary>
    public const int RetainedPushes = 200;

    private readonly Guid _epoch = Guid.NewGuid();
    private readonly LinkedList<(long Version, string Silo, GlobalDelta Delta)> _pushes = new();
    private readonly Dictionary<string, DateTimeOffset> _lastExchange = [];
    private readonly Dictionary<string, SiloReport> _reports = [];
    private float[]? _zn;
    private long _version;

    public Task<GlobalSyncReply> Exchange(GlobalSyncRequest request)
    {
        var zn = Table(request.Bits);
        _lastExchange[request.Silo] = time.GetUtcNow();
        if (request.Report is { } report)
        {
            _reports[request.Silo] = report;
        }
        if (_version == 0 && request.Epoch != Guid.Empty && request.Epoch != _epoch)
        {
            return Task.FromResult(new GlobalSyncReply(_epoch, 0, null, null, NeedsBase: true));
        }

        if (request.Push.Count > 0)
        {
            Add(zn, request.Push);
            _version++;
            _pushes.AddLast((_version, request.Silo, request.Push));
            if (_pushes.Count > RetainedPushes)
            {
                _pushes.RemoveFirst();
            }
        }

        var oldest = _pushes.First?.Value.Version ?? _version + 1;
        if (request.Epoch != _epoch || request.Cursor < oldest - 1)
        {
            return Task.FromResult(new GlobalSyncReply(_epoch, _version, null, (float[])zn.Clone(), NeedsBase: false));
        }

        var others = new FtrlDeltas();
        foreach (var (version, silo, delta) in _pushes)
        {
            if (version > request.Cursor && silo != request.Silo)
            {
                others.AddRange(delta.ToDeltas());
            }
        }

        return Task.FromResult(new GlobalSyncReply(_epoch, _version, GlobalDelta.Of(others.Aggregate()), null, NeedsBase: false));
    }

    public Task SetBase(string silo, Immutable<float[]> state)
    {
        if (_version == 0)
        {
            var zn = state.Value;
            _zn = (float[])zn.Clone();
            _version = 1;
            _pushes.Clear();
        }

        return Task.CompletedTask;
    }

    public Task<GlobalSyncStatus> GetStatus() => Task.FromResult(new GlobalSyncStatus(_version, new Dictionary<string, DateTimeOffset>(_lastExchange), new Dictionary<string, SiloReport>(_reports)));

    private float[] Table(int bits)
    {
        if (bits is < 1 or > 30)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be in 1..30");
        }

        _zn ??= new float[2 << bits];
        if (_zn.Length != 2 << bits)
        {
            throw new InvalidOperationException("the silos' global models differ in size: " + bits + " bits here, " + (31 - int.LeadingZeroCount(_zn.Length - 1)) + " in the cluster (AdCtr:Model:Bits must be the same on every silo)");
        }

        return _zn;
    }

    private static void Add(float[] zn, GlobalDelta delta)
    {
        var mask = (zn.Length >> 1) - 1;
        for (var k = 0; k < delta.Count; k++)
        {
            var i = (delta.Indices[k] & mask) << 1;
            zn[i] += delta.Dz[k];
            zn[i + 1] += delta.Dn[k];
        }
    }
}
