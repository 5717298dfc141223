using AdCtr.Server.Durability;
using AdCtr.Server.Storage;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Hosting;

public static partial class AdCtrServer
{
    /// <summary>Exit code of a server that could not start (bad configuration, unusable data directory ...).</summary>
    public const int StartupFailedExitCode = 1;

    /// <summary>
    /// Runs the server until it is stopped (Ctrl+C, SIGTERM); returns the process exit code: 0 after a graceful
    /// shutdown (also when its snapshot failed: that is logged, and nothing is lost), 1 when the server could not
    /// start. A start-up failure is one line on standard error naming the cause (for the data directory: the path
    /// and what is wrong with it); the stack trace follows only when logging is at Debug.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter? error = null)
    {
        error ??= Console.Error;
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return StartupFailed(error, e, debug: false);
        }

        await using (app.ConfigureAwait(false))
        {
            var debug = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AdCtr.Server").IsEnabled(LogLevel.Debug);
            try
            {
                // Checked before the host starts, so that an unusable data directory is one clear line, not the host's
                // "Hosting failed to start" with a stack trace.
                // (Read from the options, not by resolving DurabilityService: that would create the engine and the campaign
                // grain storage inside the data directory first.)
                // (In a cluster on PostgreSQL the durable store is the database, not a data directory.)
                if (app.Services.GetRequiredService<IOptions<DurabilityOptions>>().Value.Enabled && !app.Services.GetRequiredService<AdCtrClusterOptions>().IsPostgreSql)
                {
                    DataDirectory.Check(app.Services.GetRequiredService<IOptions<StorageOptions>>().Value);
                }

                await app.StartAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return StartupFailed(error, e, debug);
            }

            await app.WaitForShutdownAsync().ConfigureAwait(false);
        }

        return 0;
    }

    private static int StartupFailed(TextWriter error, Exception e, bool debug)
    {
        var cause = e switch
        {
            StorageStartupException storage => storage.Message,
            ClusterStoreStartupException store => store.Message,
            OptionsValidationException options => "invalid configuration: " + string.Join(" ", options.Failures),
            _ => e.Message,
        };
        error.WriteLine("AdCtr.Server could not start: " + cause.ReplaceLineEndings(" "));
        if (debug)
        {
            error.WriteLine(e.ToString());
        }

        return StartupFailedExitCode;
    }
}
