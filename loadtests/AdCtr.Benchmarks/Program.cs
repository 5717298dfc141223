using AdCtr.Benchmarks;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// `--cpu-time [passes]`: the same benchmarks timed with thread CPU time (see CpuTimeRunner), for a busy machine.
if (args is ["--cpu-time", ..])
{
    return CpuTimeRunner.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200);
}

// `--joiner-heap [n]`: the managed heap of n pending joiner entries (see JoinerBenchmarks.HeapReport).
// `--predict-path-cpu-time [passes]`: the server's predict path from the view and from replicas, timed the same way.
if (args is ["--predict-path-cpu-time", ..])
{
    return CpuTimeRunner.RunPredictPath(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200);
}

if (args is ["--joiner-heap", ..])
{
    return JoinerBenchmarks.HeapReport(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000);
}

// A short default job (one process, 3 warm-up and 9 measured iterations of about 250 ms) so the whole
// suite runs in a few minutes on a shared machine (set here, not by `--job`).
var job = Job.Default
    .WithLaunchCount(1)
    .WithWarmupCount(3)
    .WithIterationCount(9)
    .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
    .WithId("Short9")
    .AsDefault();
var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(job)
    .AddColumn(StatisticColumn.Median, StatisticColumn.OperationsPerSecond, new AllocationBudgetColumn());

var summaries = BenchmarkSwitcher.FromAssembly(typeof(LearnerBenchmarks).Assembly).Run(args, config);
return AllocationBudgetColumn.Check(summaries, Console.Out) ? 0 : 1;
