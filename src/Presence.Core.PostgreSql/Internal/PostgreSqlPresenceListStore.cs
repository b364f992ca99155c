using System.Runtime.CompilerServices;
using Npgsql;

namespace Presence.PostgreSql.Internal;

/// <summary>Presence lists and permissions in PostgreSQL, written through: a call returns when the change is committed.</summary>
internal sealed class PostgreSqlPresenceListStore(PostgreSqlPresenceStore store) : IPresenceListStore
{
    public async ValueTask SaveAsync(PresenceListEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await store.RunAsync("saving a presence-list relation", "list", async connection =>
        {
            var command = new NpgsqlCommand(
                $"INSERT INTO {store.QuotedSchema}.presence_lists (observer, observed, state) VALUES (@observer, @observed, @state) ON CONFLICT (observer, observed) DO UPDATE SET state = EXCLUDED.state",
                connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string>("observer", entry.Observer.Value));
                command.Parameters.Add(new NpgsqlParameter<string>("observed", entry.Observed.Value));
                command.Parameters.Add(new NpgsqlParameter<short>("state", (short)entry.State));
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask RemoveAsync(UserId observer, UserId observed, CancellationToken cancellationToken)
    {
        await store.RunAsync("removing a presence-list relation", "list", async connection =>
        {
            var command = new NpgsqlCommand($"DELETE FROM {store.QuotedSchema}.presence_lists WHERE observer = @observer AND observed = @observed", connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<string>("observer", observer.Value));
                command.Parameters.Add(new NpgsqlParameter<string>("observed", observed.Value));
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<PresenceListEntry> LoadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Read whole, then yielded: a connection is never held while the caller works, and a failure retries from the start.
        var entries = new List<PresenceListEntry>();
        await store.RunAsync("reading presence lists", "list", async connection =>
        {
            entries.Clear();
            var command = new NpgsqlCommand($"SELECT observer, observed, state FROM {store.QuotedSchema}.presence_lists", connection);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        if (UserId.TryParse(reader.GetString(0), out var observer) && UserId.TryParse(reader.GetString(1), out var observed)
                            && observer != observed && reader.GetInt16(2) is >= 0 and <= (short)PresenceListState.Denied and var state)
                        {
                            entries.Add(new PresenceListEntry(observer, observed, (PresenceListState)state));
                        }
                        else
                        {
                            store.BadRow("presence_lists");
                        }
                    }
                }
            }
        }, cancellationToken).ConfigureAwait(false);

        foreach (var entry in entries)
        {
            yield return entry;
        }
    }
}
