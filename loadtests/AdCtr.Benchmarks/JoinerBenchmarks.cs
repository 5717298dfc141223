using System.Diagnostics;
using AdCtr.Learning.Features;
using AdCtr.Server.Hosting;
using AdCtr.Server.Joiner;
using AdCtr.Server.Model;
using BenchmarkDotNet.Attributes;

namespace AdCtr.Benchmarks;

/// <summary>
/// The joiner's cost on the predict path: <see cref="ImpressionJoiner.Served"/> with the store full (the steady state
/// under load: every call evicts the oldest entry early). Budget: 0 B allocated per call.
/// </summary>
[MemoryDiagnoser]
public class JoinerBenchmarks
{
    public const int Pool = 64;

    private CtrEngine _engine = null!;
    private ImpressionJoiner _joiner = null!;
    private RawRow[] _rows = [];
    private EncodedExample[] _encoded = [];
    private byte[] _id = new byte[17];
    private int _next;

    /// <summary>Pending entries the store holds (the server's default bound is 1,000,000).</summary>
    [Params(100_000)]
    public int MaxPending { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_engine, _joiner, _rows, _encoded) = Create(MaxPending);
        _id = new byte[17];
        Fill(_engine, _joiner, _rows, _encoded, MaxPending + 1); // full, and the eviction path warm
    }

    [GlobalCleanup]
    public void Cleanup() => _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Pool)]
    public void Served()
    {
        for (var i = 0; i < Pool; i++)
        {
            var k = _next++ & (Pool - 1);
            _engine.WriteImpressionId(_id);
            _joiner.Served(_id, _rows[k], _encoded[k], 0.01);
        }
    }

    /// <summary>
    /// <c>--joiner-heap [n]</c>: the managed heap of n pending predictions (default 1,000,000): GC.GetTotalMemory
    /// after a full blocking collection, before and after serving n predictions into an empty joiner whose bound is
    /// n, and the time of one full blocking collection with them held.
    /// </summary>
    public static int HeapReport(int n)
    {
        var (engine, joiner, rows, encoded) = Create(n);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var watch = Stopwatch.StartNew();
        Fill(engine, joiner, rows, encoded, n);
        var fillMs = watch.Elapsed.TotalMilliseconds;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        watch.Restart();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        var fullGcMs = watch.Elapsed.TotalMilliseconds;
        var pending = joiner.PendingCount;
        Console.WriteLine($"pending entries:            {pending:N0}");
        Console.WriteLine($"managed heap before:        {before:N0} B");
        Console.WriteLine($"managed heap after:         {after:N0} B");
        Console.WriteLine($"heap per pending entry:     {(after - before) / (double)Math.Max(1, pending):F1} B");
        Console.WriteLine($"fill time:                  {fillMs:F0} ms ({fillMs * 1e6 / n:F0} ns per Served)");
        Console.WriteLine($"one full blocking gen2 GC:  {fullGcMs:F1} ms");
        GC.KeepAlive(joiner);
        engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }

    private static (CtrEngine Engine, ImpressionJoiner Joiner, RawRow[] Rows, EncodedExample[] Encoded) Create(int maxPending)
    {
        var spec = FeatureSpec.Load(Path.Combine(PredictPathBenchmarks.FindConfig(), "features.sim.json"));
        var engine = new CtrEngine(spec, new ModelOptions(), new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, TimeProvider.System); // no silo: Served only
        var options = new JoinerOptions { MaxPending = maxPending, AttributionWindow = TimeSpan.FromHours(1) };
        var joiner = new ImpressionJoiner(engine, new ExampleIngestor(engine), options, 1.0, TimeProvider.System, startTimer: false);
        var encoder = new FeatureEncoder(spec);
        var rows = new RawRow[Pool];
        var encoded = new EncodedExample[Pool];
        for (var i = 0; i < Pool; i++)
        {
            // The predict request's shape: context, ad, campaign (one of 200), advertiser and category.
            var row = new RawRow(spec.Fields.Length);
            row.Set(spec.IndexOf("campaignId"), "c" + (i * 37 % 200));
            row.Set(spec.IndexOf("adId"), "a" + (i * 7));
            row.Set(spec.IndexOf("advertiserId"), "v" + (i % 13));
            row.Set(spec.IndexOf("ad_category"), "k" + (i % 9));
            row.Set(spec.IndexOf("user_age"), "25-34");
            row.Set(spec.IndexOf("gender"), "f");
            row.Set(spec.IndexOf("region"), "r" + (i % 7));
            row.Set(spec.IndexOf("device"), "d" + (i % 3));
            row.Set(spec.IndexOf("interest"), "sports");
            row.Set(spec.IndexOf("site"), "s" + (i % 20));
            row.Set(spec.IndexOf("position"), "1");
            row.Set(spec.IndexOf("hour"), "13");
            row.Set(spec.IndexOf("weekday"), "2");
            rows[i] = row;
            encoded[i] = new EncodedExample();
            encoder.Encode(row, encoded[i]);
        }

        return (engine, joiner, rows, encoded);
    }

    private static void Fill(CtrEngine engine, ImpressionJoiner joiner, RawRow[] rows, EncodedExample[] encoded, int n)
    {
        Span<byte> id = stackalloc byte[17];
        for (var i = 0; i < n; i++)
        {
            engine.WriteImpressionId(id);
            joiner.Served(id, rows[i & (Pool - 1)], encoded[i & (Pool - 1)], 0.01);
        }
    }
}
