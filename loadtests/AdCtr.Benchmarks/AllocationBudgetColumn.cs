using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AdCtr.Benchmarks;

/// <summary>
/// The allocation budget of the learner's hot paths: 0 bytes per operation for every benchmark in this
/// project (STYLE.md, "Hot paths"). Shows "ok" or "OVER" next to BenchmarkDotNet's Allocated column, and
/// <see cref="Check"/> turns a breach into a non-zero exit code. The check uses the total bytes allocated
/// over the whole measured run, not the rounded per-operation figure, so one stray allocation per
/// invocation of a 4,096-example loop (a few thousandths of a byte per operation) still fails it.
/// </summary>
public sealed class AllocationBudgetColumn : IColumn
{
    public const long BudgetBytes = 0;

    public string Id => nameof(AllocationBudgetColumn);

    public string ColumnName => "Alloc budget";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Metric;

    public int PriorityInCategory => 100;

    public bool IsNumeric => false;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "0 B/op budget: ok when nothing was allocated in the whole measured run, OVER otherwise";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => Verdict(summary[benchmarkCase]);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    /// <summary>Prints every benchmark over budget; returns false when there is one (or one did not run).</summary>
    public static bool Check(IEnumerable<Summary> summaries, TextWriter output)
    {
        var ok = true;
        foreach (var summary in summaries)
        {
            foreach (var benchmarkCase in summary.BenchmarksCases)
            {
                var verdict = Verdict(summary[benchmarkCase]);
                if (verdict != "ok")
                {
                    ok = false;
                    output.WriteLine($"// allocation budget: {benchmarkCase.DisplayInfo}: {verdict}");
                }
            }
        }

        output.WriteLine(ok ? "// allocation budget: every benchmark allocated 0 bytes" : "// allocation budget: FAILED");
        return ok;
    }

    private static string Verdict(BenchmarkReport? report)
    {
        if (report is null || !report.Success)
        {
            return "not run";
        }

        var gc = report.GcStats;
        if (gc.TotalOperations == 0 || gc.GetTotalAllocatedBytes(excludeAllocationQuantumSideEffects: true) is not { } bytes)
        {
            return "not measured (no MemoryDiagnoser)";
        }

        var budget = report.BenchmarkCase.Descriptor.WorkloadMethod.GetCustomAttributes(typeof(AllocationBudgetAttribute), false) is [AllocationBudgetAttribute declared]
            ? declared.BytesPerOperation
            : BudgetBytes;
        return bytes <= budget * gc.TotalOperations
            ? "ok"
            : FormattableString.Invariant($"OVER ({(double)bytes / gc.TotalOperations:G3} B/op)");
    }
}

/// <summary>A benchmark whose allocation is by design (say why where it is used); the default budget is 0 bytes.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AllocationBudgetAttribute(long bytesPerOperation) : Attribute
{
    public long BytesPerOperation { get; } = bytesPerOperation;
}
