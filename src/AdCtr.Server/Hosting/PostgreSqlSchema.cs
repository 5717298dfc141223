using System.Reflection;
using Npgsql;

namespace AdCtr.Server.Hosting;

/// <summary>PostgreSQL named in <c>AdCtr:Cluster:ConnectionString</c> could not be reached or prepared at start.</summary>
internal sealed class ClusterStoreStartupException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Creates, idempotently, the tables and queries the cluster keeps in PostgreSQL (Orleans' ADO.NET membership: see the
/// sources named in <c>Sql/orleans-clustering.sql</c>; the example journal and campaign checkpoints: <c>Sql/adctr-journal.sql</c>). Runs as a hosted service registered before the silo's, so that
/// the schema exists when Orleans' membership first reads it; an empty database is enough.
/// </summary>
internal sealed class PostgreSqlSchema(string connectionString) : IHostedService
{
    /// <summary>Key of the advisory lock that serialises the silos that start together (an arbitrary constant: "AdCtrSch").</summary>
    private const long SchemaLockKey = 0x416443747253_6368;

    /// <summary>Orleans' membership, then AdCtr's journal and campaign checkpoints (Sql/adctr-journal.sql).</summary>
    private static readonly string[] Scripts = ["sql/orleans-clustering.sql", "sql/adctr-journal.sql"];

    public Task StartAsync(CancellationToken cancellationToken) => EnsureAsync(connectionString, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs every schema script in one transaction under an advisory lock; throws <see cref="ClusterStoreStartupException"/>.</summary>
    public static async Task EnsureAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(" + SchemaLockKey.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", connection, transaction))
            {
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (var name in Scripts)
            {
                await using var script = new NpgsqlCommand(Script(name), connection, transaction);
                await script.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or ArgumentException)
        {
            throw new ClusterStoreStartupException(
                "PostgreSQL (AdCtr:Cluster:ConnectionString, " + Describe(connectionString) + ") is unreachable or refused the schema: " + e.Message, e);
        }
    }

    /// <summary>Host, port and database of a connection string, never its password (for messages and the start-up log).</summary>
    internal static string Describe(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return "Host=" + b.Host + ";Port=" + b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) + ";Database=" + (b.Database ?? "(default)");
        }
        catch (ArgumentException)
        {
            return "not a valid Npgsql connection string";
        }
    }

    private static string Script(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException("embedded resource " + name + " is missing from AdCtr.Server");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
