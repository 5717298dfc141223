using AdCtr.Server.Telemetry;
using BenchmarkDotNet.Attributes;
using Prometheus;

namespace AdCtr.Benchmarks;

/// <summary>
/// What the metrics add to the hot paths: the sliding window's <see cref="ProgressiveWindow.Add"/> once per learned
/// example, and one prometheus-net counter increment per predict request (and per labelled batch child).
/// Budget: 0 bytes allocated.
/// </summary>
[MemoryDiagnoser]
public class MetricsBenchmarks
{
    private const int Operations = 4096;
    private readonly ProgressiveWindow _window = new(60, TimeSpan.FromSeconds(10));
    private Counter _counter = null!;
    private Counter.Child _child = null!;

    [GlobalSetup]
    public void Setup()
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry());
        _counter = factory.CreateCounter("bench_total", "Benchmark counter.");
        _child = factory.CreateCounter("bench_labelled_total", "Benchmark counter.", ["result"]).WithLabels("accepted");
    }

    /// <summary>One example's progressive figures into the window (per example learned).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public void WindowAdd()
    {
        for (var i = 0; i < Operations; i++)
        {
            _window.Add(0.03 + ((i & 15) * 0.001), i & 1, 1f);
        }
    }

    /// <summary>An unlabelled counter increment (per predict request).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public void CounterInc()
    {
        for (var i = 0; i < Operations; i++)
        {
            _counter.Inc(3);
        }
    }

    /// <summary>A precomputed labelled child's increment (per ingestion batch, per joiner event).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public void LabelledChildInc()
    {
        for (var i = 0; i < Operations; i++)
        {
            _child.Inc();
        }
    }
}
