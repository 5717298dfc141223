using System.Diagnostics;

namespace AdCtr.Server.Tests.Telemetry;

/// <summary>Runs Debian's <c>promtool</c> (package <c>prometheus</c>); fails the test, with how to install it, when absent.</summary>
internal static class Promtool
{
    public const string Path = "/usr/bin/promtool";

    /// <summary><c>promtool check metrics</c> on an exposition; returns its exit code and everything it printed.</summary>
    public static Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition) => RunAsync(["check", "metrics"], exposition);

    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> arguments, string? input = null, string? workingDirectory = null)
    {
        Assert.True(File.Exists(Path), "promtool not found at " + Path + ": install it: apt-get install prometheus");
        var info = new ProcessStartInfo(Path, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(deadline.Token);
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }
}
