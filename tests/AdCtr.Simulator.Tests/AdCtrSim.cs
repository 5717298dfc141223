using System.Globalization;

namespace AdCtr.Simulator.Tests;

/// <summary>Runs <c>adctr-sim</c> in process, capturing what it prints.</summary>
internal static class AdCtrSim
{
    public static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        var code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
