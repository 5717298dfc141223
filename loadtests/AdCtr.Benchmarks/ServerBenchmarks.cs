using System.Buffers;
using System.Text;
using System.Text.Json;
using AdCtr.Grains.Runtime;
using AdCtr.Learning.Features;
using AdCtr.Server.Api;
using AdCtr.Server.Hosting;
using AdCtr.Server.Model;
using BenchmarkDotNet.Attributes;

namespace AdCtr.Benchmarks;

/// <summary>
/// The in-process predict path of the server, without HTTP: parse the request body, encode and score every
/// candidate (global + campaign grain read + calibration), and write the JSON response into a reused buffer.
/// Budget: 0 B allocated per request beyond the response buffer (which is reused here).
/// </summary>
[MemoryDiagnoser]
public class PredictPathBenchmarks
{
    private CtrEngine _engine = null!;
    private byte[] _body = [];
    private ArrayBufferWriter<byte> _output = null!;
    private Utf8JsonWriter _writer = null!;

    [Params(1, 50)]
    public int Candidates { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var spec = FeatureSpec.Load(Path.Combine(FindConfig(), "features.sim.json"));
        _engine = new CtrEngine(spec, new ModelOptions(), new LimitsOptions(), new CalibrationOptions { Kind = CalibrationKind.None }, new GrainRuntimeOptions(), TimeProvider.System);
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

    [GlobalCleanup]
    public void Cleanup() => _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

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

/// <summary>The grain runtime's write turn (Post, drained in batches) and interleaving read paths.</summary>
[MemoryDiagnoser]
public class GrainBenchmarks
{
    private const int Operations = 10_000;
    private GrainRuntime _runtime = null!;
    private GrainReference<CounterGrain> _grain;

    [GlobalSetup]
    public void Setup()
    {
        _runtime = new GrainRuntime(new MemoryGrainStorage());
        _runtime.RegisterGrainType(_ => new CounterGrain());
        _runtime.Start();
        _grain = _runtime.GetGrain<CounterGrain>(1);
        _grain.InvokeAsync(static g => ValueTask.FromResult(g.Count)).AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Enqueue and execute: 10,000 posts, then one awaited turn that observes them all.</summary>
    /// <remarks>Each post allocates its 48-byte turn object (turns are not pooled; ingestion posts one turn per
    /// campaign per batch, not per example).</remarks>
    [Benchmark(OperationsPerInvoke = Operations)]
    [AllocationBudget(48)]
    public long PostAndDrain()
    {
        for (var i = 0; i < Operations; i++)
        {
            _grain.Post(0, static (g, _) => g.Count++);
        }

        return _grain.InvokeAsync(static g => ValueTask.FromResult(g.Count)).AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public long Read()
    {
        long sum = 0;
        for (var i = 0; i < Operations; i++)
        {
            sum += _runtime.GetGrain<CounterGrain>(1).Read(0, static (g, _) => g.Count);
        }

        return sum;
    }

    public sealed class CounterGrain : Grain
    {
        public long Count { get; set; }
    }
}
