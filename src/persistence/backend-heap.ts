// A group commit's Postgres backend, made to keep its heap between statements.
//
// Postgres frees a statement's memory when the statement ends. On glibc, `free` then gives the
// top of the backend's heap back to the kernel (`brk`) as soon as more than 128 KiB of it is
// free, and the next statement takes it back, page fault by page fault. The journal's statement
// with the movement history in it needs more than that: each group commit shrank the heap and
// grew it again, and shrinking it unmaps pages, which on a machine of more than one core means a
// TLB shootdown (an interrupt to the other cores, waited for; dearer still on a virtual machine).
// On the hot SKU that was a fifth of the commit backend's CPU (bench/README.md, "The commit
// backend's heap").
//
// glibc moves that threshold on its own: when a block it mapped for one large allocation is
// freed, it sets the threshold for mapping to the block's size and the one for giving back to
// twice that (its "dynamic mmap threshold", up to 32 MiB). So one statement that makes and drops
// a large value leaves the backend keeping up to twice that much free heap instead of handing it
// back after every commit. Postgres's own settings cannot say this, and the environment of the
// operator's server (GLIBC_TUNABLES) is not the ledger's to set; a connection can do it for its
// own backend, once. On another C library the statement is a harmless 8 MiB allocation.
import type pg from 'pg';

/** The value made and dropped: glibc then keeps up to twice this free in the backend's heap. */
export const backendHeapKeptBytes = 8 * 1024 * 1024;

/** Once per connection, before its first group commit (see above). */
export async function keepBackendHeap(client: pg.ClientBase): Promise<void> {
  await client.query(`SELECT length(repeat('x', ${backendHeapKeptBytes})) AS made`);
}
