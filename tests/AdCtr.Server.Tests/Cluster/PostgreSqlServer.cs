using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace AdCtr.Server.Tests.Cluster;

/// <summary>
/// A private PostgreSQL 15 from Debian's package (/usr/lib/postgresql/15/bin): initdb into a temporary directory, started
/// with pg_ctl on 127.0.0.1 and a free port (run as the <c>postgres</c> user when the tests run as root, as initdb refuses
/// root), stopped and deleted on dispose. Missing binaries fail the test with the command that installs them: a cluster
/// test is never skipped. One per test class (<c>IClassFixture</c>); each test takes its own database.
/// </summary>
public sealed class PostgreSqlServer : IDisposable
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private readonly string _directory;
    private readonly string? _error;
    private int _databases;

    public PostgreSqlServer()
    {
        _directory = Directory.CreateTempSubdirectory("adctr-pg-").FullName;
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")) || !File.Exists(Path.Combine(BinDirectory, "pg_ctl")))
        {
            _error = "PostgreSQL 15 is not installed (" + BinDirectory + "/initdb, pg_ctl): run `apt-get install postgresql` (the cluster tests need it and are never skipped)";
            return;
        }

        Port = FreePort();
        if (Environment.UserName == "root")
        {
            Run("chown", "postgres:postgres", _directory);
        }

        var data = Path.Combine(_directory, "data");
        Run(Path.Combine(BinDirectory, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync");
        Start();
    }

    private bool _started;

    /// <summary>
    /// fsync off (tests need no crash safety of the database itself), unless ADCTR_TEST_PG_FSYNC=on: for write-rate
    /// figures of a database that syncs its commits (PostgreSqlJournalTests prints one).
    /// </summary>
    private static string Fsync => Environment.GetEnvironmentVariable("ADCTR_TEST_PG_FSYNC") == "on" ? "on" : "off";

    /// <summary>Starts the server (again, after <see cref="Stop"/>) on the same port and data, waiting until it accepts connections.</summary>
    public void Start()
    {
        Run(Path.Combine(BinDirectory, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60",
            "-o", "-p " + Port.ToString(CultureInfo.InvariantCulture) + " -k " + _directory + " -c listen_addresses=127.0.0.1 -c fsync=" + Fsync, "start");
        _started = true;
    }

    /// <summary>Stops the server at once (<c>pg_ctl stop -m immediate</c>: open connections are cut), waiting until it is down.</summary>
    public void Stop()
    {
        Run(Path.Combine(BinDirectory, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "-t", "60", "stop");
        _started = false;
    }

    public int Port { get; }

    /// <summary>A new empty database of this server (so that the tests of one class do not share tables).</summary>
    public string CreateDatabase()
    {
        if (_error is not null)
        {
            Assert.Fail(_error);
        }

        var name = "adctr_" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture);
        using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            connection.Open();
            using var command = new NpgsqlCommand("CREATE DATABASE " + name, connection);
            command.ExecuteNonQuery();
        }

        return ConnectionString(name);
    }

    public string ConnectionString(string database) =>
        "Host=127.0.0.1;Port=" + Port.ToString(CultureInfo.InvariantCulture) + ";Username=postgres;Database=" + database + ";Pooling=false";

    public void Dispose()
    {
        if (_started)
        {
            try
            {
                Run(Path.Combine(BinDirectory, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "-t", "60", "stop");
            }
            catch (InvalidOperationException)
            {
                // Already stopped; the directory goes anyway.
            }
        }

        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Runs a command (as <c>postgres</c> when root), bounded, and throws with its output if it fails.</summary>
    private static void Run(string file, params string[] args)
    {
        var asPostgres = Environment.UserName == "root" && file != "chown";
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add("postgres");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(file);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException(file + " did not finish within " + CommandTimeout);
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(file + " " + string.Join(' ', args) + " failed (" + process.ExitCode + "): " + stdout.Result + stderr.Result);
        }
    }

    /// <summary>A free loopback port below Linux's ephemeral range (32768-60999), so that no outgoing connection takes it meanwhile.</summary>
    private static int FreePort()
    {
        var start = Random.Shared.Next(10000);
        for (var i = 0; i < 10000; i++)
        {
            var port = 10000 + ((start + i) % 10000);
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // In use: the next one.
            }
        }

        throw new InvalidOperationException("no free loopback port in 10000-19999 for PostgreSQL");
    }
}
