using System.Globalization;
using AdCtr.Grains.Storage;
using Npgsql;
using NpgsqlTypes;
using Orleans.Storage;

namespace AdCtr.Server.Cluster;

/// <summary>
/// The campaign grains' Orleans grain storage in a cluster (registered as <see cref="CampaignGrainStorage.ProviderName"/>):
/// each campaign's checkpoint in <c>adctr_campaign_state</c>, the compact state of <see cref="CampaignStateCodec"/> beside
/// the journal position it holds (<see cref="CampaignState.JournalSeq"/>). Writing a checkpoint deletes the journal
/// entries it covers, in the same statement, so a campaign's journal holds only what its checkpoint does not. A write
/// never moves a checkpoint back: a stale activation's older state (Orleans may briefly run two activations of a grain
/// while a silo's death is being decided) is ignored.
/// </summary>
internal sealed class PostgreSqlCampaignStorage(PostgreSqlJournal journal) : IGrainStorage
{
    private const string ReadSql = "SELECT seq, state FROM adctr_campaign_state WHERE campaign = $1";

    private const string WriteSql = """
        WITH s AS (
            INSERT INTO adctr_campaign_state AS s (campaign, seq, state, updated) VALUES ($1, $2, $3, now())
            ON CONFLICT (campaign) DO UPDATE SET seq = EXCLUDED.seq, state = EXCLUDED.state, updated = now()
            WHERE s.seq <= EXCLUDED.seq
            RETURNING s.seq)
        DELETE FROM adctr_journal WHERE campaign = $1 AND first_seq <= (SELECT seq FROM s)
        """;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var id = grainId.Key.ToString()!;
        try
        {
            await using var command = journal.Source.CreateCommand(ReadSql);
            command.CommandTimeout = journal.CommandTimeoutSeconds;
            command.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            if (!await reader.ReadAsync().ConfigureAwait(false))
            {
                grainState.RecordExists = false;
                return;
            }

            var seq = reader.GetInt64(0);
            var state = CampaignStateCodec.Decode(reader.GetFieldValue<byte[]>(1));
            if (!string.Equals(state.Id, id, StringComparison.Ordinal))
            {
                throw new InvalidDataException("the checkpoint of campaign '" + id + "' in PostgreSQL belongs to campaign '" + state.Id + "'");
            }

            state.JournalSeq = seq;
            grainState.State = state is T typed ? typed : throw NotCampaignState<T>();
            grainState.RecordExists = true;
            grainState.ETag = seq.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (PostgreSqlJournal.IsUnavailable(e))
        {
            throw journal.Unavailable("campaign '" + id + "' could not read its checkpoint", e);
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var state = grainState.State as CampaignState ?? throw NotCampaignState<T>();
        var id = grainId.Key.ToString()!;
        var bytes = state.Encoded ?? CampaignStateCodec.Encode(state);
        var seq = state.JournalSeq;
        try
        {
            await using var command = journal.Source.CreateCommand(WriteSql);
            command.CommandTimeout = journal.CommandTimeoutSeconds;
            command.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = seq, NpgsqlDbType = NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter { Value = bytes, NpgsqlDbType = NpgsqlDbType.Bytea });
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            grainState.RecordExists = true;
            grainState.ETag = seq.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (PostgreSqlJournal.IsUnavailable(e))
        {
            throw journal.Unavailable("campaign '" + id + "' could not write its checkpoint", e);
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var id = grainId.Key.ToString()!;
        try
        {
            await using var command = journal.Source.CreateCommand("DELETE FROM adctr_campaign_state WHERE campaign = $1");
            command.CommandTimeout = journal.CommandTimeoutSeconds;
            command.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Text });
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            grainState.RecordExists = false;
            grainState.ETag = null;
        }
        catch (Exception e) when (PostgreSqlJournal.IsUnavailable(e))
        {
            throw journal.Unavailable("campaign '" + id + "' could not delete its checkpoint", e);
        }
    }

    private static NotSupportedException NotCampaignState<T>() =>
        new(nameof(PostgreSqlCampaignStorage) + " stores " + nameof(CampaignState) + " only, not " + typeof(T).Name);
}
