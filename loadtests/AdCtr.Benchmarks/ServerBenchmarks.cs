using System.Buffers;
using System.Text;
using System.Text.Json;
using AdCtr.Grains;
using Orleans.Concurrency;
using AdCtr.Learning.Features;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace AdCtr.Benchmarks;

/// <summary>
/// The in-process predict path of the server, without HTTP: parse the request body, encode and score every
/// candidate (global + campaign model from the silo view + calibration), and write the JSON response into a reused buffer.
/// Budget: 0 B allocated per request beyond the response buffer (which is reused here).
/// </summary>
[MemoryDiagnoser]
public class PredictPathBenchmarks
{
    private EngineHost _host = null!;
    private CtrEngine _engine = null!;
    private byte[] _body = [];
    private ArrayBufferWriter<byte> _output = null!;
    private Utf8JsonWriter _writer = null!;
    private AdCtr.Server.Telemetry.MetricsRegistry? _registry;

    [Params(1, 50)]
    public int Candidates { get; set; }

    /// <summary>
    /// True: every campaign is read from a replica (<see cref="CampaignReplicas"/>, as on a silo of a cluster that does not
    /// host the campaigns' grains), with the staleness histogram observed per read; false: from the view (single node).
    /// </summary>
    [Params(false, true)]
    public bool Replica { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var spec = FeatureSpec.Load(Path.Combine(FindConfig(), "features.sim.json"));
        _host = EngineHost.StartAsync(spec, new ModelOptions(), new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, TimeProvider.System).GetAwaiter().GetResult();
        _engine = _host.Engine;
        // Train 200 campaigns a little so campaign reads hit real models.
        var lines = new StringBuilder();
        for (var i = 0; i < 2000; i++)
        {
            lines.Append("{\"context\":{\"user_age\":\"25-34\",\"device\":\"d").Append(i % 3).Append("\",\"hour\":\"").Append(i % 24)
                .Append("\"},\"adId\":\"a").Append(i % 400).Append("\",\"campaignId\":\"c").Append(i % 200)
                .Append("\",\"features\":{\"ad_category\":\"k").Append(i % 9).Append("\"},\"label\":").Append(i % 7 == 0 ? 1 : 0).Append("}\n");
        }

        using (var parsed = ExampleBodyParser.Parse(_engine, Encoding.UTF8.GetBytes(lines.ToString())))
        {
            _engine.LearnAsync(parsed.Batch, parsed.CampaignIds).AsTask().GetAwaiter().GetResult();
        }

        if (Replica)
        {
            UseReplicas();
        }

        var request = new StringBuilder("{\"requestId\":\"r-1\",\"context\":{\"user_age\":\"25-34\",\"gender\":\"f\",\"region\":\"r4\",\"device\":\"d1\",\"interest\":\"sports\",\"site\":\"s12\",\"position\":\"1\",\"hour\":\"13\",\"weekday\":\"2\"},\"candidates\":[");
        for (var c = 0; c < Candidates; c++)
        {
            request.Append(c == 0 ? "" : ",").Append("{\"adId\":\"a").Append(c * 7).Append("\",\"campaignId\":\"c").Append(c * 3 % 200)
                .Append("\",\"advertiserId\":\"v").Append(c % 13).Append("\",\"features\":{\"ad_category\":\"k").Append(c % 9).Append("\"}}");
        }

        _body = Encoding.UTF8.GetBytes(request.Append("]}").ToString());
        _output = new ArrayBufferWriter<byte>(64 * 1024);
        _writer = new Utf8JsonWriter(_output, new JsonWriterOptions { SkipValidation = true });
        Predict();
    }

    /// <summary>
    /// Takes a replica of every campaign (one call each; no refresher runs), then deactivates their grains, so that the
    /// view is empty and every read goes to the replicas (the single silo would activate a grain again on a call: none is made).
    /// </summary>
    private void UseReplicas()
    {
        var replicas = new CampaignReplicas(_engine.Silo, _host.Services.GetRequiredService<IGrainFactory>(), TimeSpan.FromHours(1), TimeSpan.FromHours(1), 100_000);
        var ids = _engine.CampaignIds().ToArray();
        foreach (var id in ids)
        {
            replicas.GetOrFetchAsync(SiloModel.KeyOf(id), id).GetAwaiter().GetResult();
        }

        foreach (var id in ids)
        {
            _engine.CampaignGrain(id).Deactivate().GetAwaiter().GetResult();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (_engine.ActiveCampaignGrains > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(_engine.ActiveCampaignGrains + " campaign grains still active after 60 s");
            }

            Thread.Sleep(10);
        }

        _engine.Replicas = replicas;
        _registry = new AdCtr.Server.Telemetry.MetricsRegistry(_host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _engine.ReplicaAges = new AdCtr.Server.Cluster.ReplicaMetrics(_registry, replicas);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _registry?.Dispose();
    }

    [Benchmark]
    public int Predict()
    {
        var scratch = _engine.RentScratch();
        try
        {
            if (!scratch.Parser.TryParse(_body, scratch.Request, out _))
            {
                throw new InvalidOperationException("benchmark request does not parse");
            }

            if (!PredictApi.ResolveCampaigns(_engine, scratch))
            {
                throw new InvalidOperationException("a campaign of the benchmark request is not active");
            }

            PredictApi.Score(_engine, scratch);
            _output.ResetWrittenCount();
            _writer.Reset(_output);
            PredictApi.WriteResponse(_engine, scratch, _writer);
            return _output.WrittenCount;
        }
        finally
        {
            _engine.ReturnScratch(scratch);
        }
    }

    internal static string FindConfig()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AdCtr.sln")))
            {
                return Path.Combine(dir.FullName, "config");
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "config");
    }
}

/// <summary>
/// Orleans grain calls of the server's campaign grains, in one silo (what a batch costs per campaign on top of the
/// learning itself): a no-op call (<c>Activate</c>) and a <c>Learn</c> call of a one-example slice, awaited one at a
/// time, and 64 no-op calls to 64 grains awaited together.
/// </summary>
[MemoryDiagnoser]
public class GrainCallBenchmarks
{
    private EngineHost _host = null!;
    private ICampaignGrain _grain = null!;
    private ICampaignGrain[] _many = [];
    private CampaignSlice _slice = null!;

    [GlobalSetup]
    public void Setup()
    {
        var spec = FeatureSpec.Load(Path.Combine(PredictPathBenchmarks.FindConfig(), "features.sim.json"));
        _host = EngineHost.StartAsync(spec, new ModelOptions(), new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, TimeProvider.System).GetAwaiter().GetResult();
        var engine = _host.Engine;
        var line = "{\"context\":{\"user_age\":\"25-34\",\"device\":\"d1\"},\"adId\":\"a1\",\"campaignId\":\"c1\",\"label\":0}\n";
        var parsed = ExampleBodyParser.Parse(engine, Encoding.UTF8.GetBytes(line));
        _slice = new CampaignSlice(parsed.Batch, [0]);
        _grain = engine.CampaignGrain("c1");
        _many = new ICampaignGrain[64];
        for (var i = 0; i < _many.Length; i++)
        {
            _many[i] = engine.CampaignGrain("m" + i);
        }

        Many().GetAwaiter().GetResult();
        Learn().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _host.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark]
    public Task Call() => _grain.Activate();

    [Benchmark]
    public Task<int> Learn() => _grain.Learn(_slice.AsImmutable());

    [Benchmark(OperationsPerInvoke = 64)]
    public Task Many()
    {
        var calls = new Task[_many.Length];
        for (var i = 0; i < calls.Length; i++)
        {
            calls[i] = _many[i].Activate();
        }

        return Task.WhenAll(calls);
    }
}
