#![allow(clippy::single_range_in_vec_init)] // one input range is the common case

use std::os::fd::OwnedFd;

use rustix::fs::{MemfdFlags, SealFlags};

use super::{Region, RegionError, Regions};

/// A memfd of `size` bytes, sealed with `seals`.
fn memfd(size: u64, seals: SealFlags) -> OwnedFd {
    let fd = rustix::fs::memfd_create(
        "oxbridge-shm-test",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .expect("memfd_create");
    rustix::fs::ftruncate(&fd, size).expect("ftruncate");
    rustix::fs::fcntl_add_seals(&fd, seals).expect("seal");
    fd
}

fn unusable(result: Result<Region, RegionError>) -> String {
    match result {
        Err(RegionError::Unusable(why)) => why,
        other => panic!("expected an unusable region, got {other:?}"),
    }
}

#[test]
fn a_sealed_memfd_is_mapped_and_shared_with_its_file() {
    let fd = memfd(8192, SealFlags::SHRINK | SealFlags::GROW);
    rustix::io::write(&fd, b"peer wrote this").expect("write");
    let mut regions = Regions::new(1 << 20);
    regions
        .attach(0, fd.try_clone().expect("dup"))
        .expect("map");
    assert_eq!((regions.len(), regions.has(0)), (1, true));
    let (ins, out) = regions
        .split(&[(0, 0..15)], (0, 4096..4100))
        .expect("split");
    assert_eq!(ins[0], b"peer wrote this");
    out.copy_from_slice(b"back");
    let mut seen = [0_u8; 4];
    rustix::io::pread(&fd, &mut seen, 4096).expect("pread");
    assert_eq!(&seen, b"back");
}

#[test]
fn split_refuses_ranges_outside_or_overlapping_the_output() {
    let mut region = Regions::new(4096);
    region
        .attach(0, memfd(4096, SealFlags::SHRINK))
        .expect("map");
    assert!(
        region.split(&[(0, 0..10)], (0, 4000..4097)).is_none(),
        "output past the end"
    );
    assert!(
        region.split(&[(0, 4090..4100)], (0, 0..10)).is_none(),
        "input past the end"
    );
    assert!(
        region.split(&[(0, 0..100)], (0, 50..150)).is_none(),
        "output overlaps an input"
    );
    assert!(
        region.split(&[(0, 100..200)], (0, 0..101)).is_none(),
        "overlap at the start"
    );
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 20..10;
    assert!(
        region.split(&[(0, backwards)], (0, 100..110)).is_none(),
        "a reversed range"
    );
    let (ins, out) = region
        .split(&[(0, 0..100), (0, 50..150)], (0, 150..250))
        .expect("inputs may overlap each other");
    assert_eq!((ins.len(), out.len()), (2, 100));
    assert!(
        region.split(&[(0, 10..10)], (0, 0..4096)).is_some(),
        "an empty input overlaps nothing"
    );
}

#[test]
fn a_call_reads_from_several_regions_and_writes_into_one() {
    let mut regions = Regions::new(3 * 4096);
    let first = memfd(4096, SealFlags::SHRINK);
    rustix::io::write(&first, b"first").expect("write");
    let second = memfd(4096, SealFlags::SHRINK);
    rustix::io::write(&second, b"second").expect("write");
    regions
        .attach(1, first.try_clone().expect("dup"))
        .expect("map");
    regions.attach(7, second).expect("map");
    let (ins, out) = regions
        .split(&[(1, 0..5), (7, 0..6)], (7, 100..104))
        .expect("two regions");
    assert_eq!((ins[0], ins[1]), (&b"first"[..], &b"second"[..]));
    out.copy_from_slice(b"done");
    assert!(
        regions.split(&[(7, 0..200)], (7, 100..104)).is_none(),
        "the output overlaps an input in its own region"
    );
    assert!(
        regions.split(&[(1, 0..200)], (7, 100..104)).is_some(),
        "the same offsets in another region overlap nothing"
    );
    assert!(
        regions.split(&[(2, 0..5)], (7, 100..104)).is_none(),
        "no region 2"
    );
    assert!(
        regions.split(&[(1, 0..5)], (3, 0..4)).is_none(),
        "no region 3 for the output"
    );
    let why = match regions.attach(2, first) {
        Err(RegionError::Unusable(why)) => why,
        other => panic!("the same file twice: {other:?}"),
    };
    assert!(why.contains("already attached as region 1"), "{why}");
    assert_eq!(
        regions.attach(3, memfd(8192, SealFlags::SHRINK)),
        Err(RegionError::TooLarge {
            size: 8192,
            limit: 4096
        }),
        "the limit holds for all regions together"
    );
    assert!(regions.detach(1));
    assert!(!regions.detach(1), "detached once");
    regions
        .attach(3, memfd(8192, SealFlags::SHRINK))
        .expect("room again");
    regions
        .attach(3, memfd(4096, SealFlags::SHRINK))
        .expect("an id attached again replaces its region");
    assert_eq!(regions.len(), 2);
}

#[test]
fn unsealed_or_too_large_or_empty_regions_are_refused() {
    let why = unusable(Region::map(memfd(4096, SealFlags::GROW), 1 << 20));
    assert!(why.contains("F_SEAL_SHRINK"), "{why}");
    assert_eq!(
        Region::map(memfd(8192, SealFlags::SHRINK), 4096).unwrap_err(),
        RegionError::TooLarge {
            size: 8192,
            limit: 4096
        }
    );
    let why = unusable(Region::map(memfd(0, SealFlags::SHRINK), 4096));
    assert!(why.contains("empty"), "{why}");
}

#[test]
fn a_region_sealed_against_writes_is_refused() {
    let why = unusable(Region::map(
        memfd(4096, SealFlags::SHRINK | SealFlags::WRITE),
        4096,
    ));
    assert!(why.contains("read-write"), "{why}");
}

#[test]
fn descriptors_that_are_not_memfds_are_refused() {
    let (socket, _peer) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let why = unusable(Region::map(OwnedFd::from(socket), 4096));
    assert!(why.contains("not a memfd"), "{why}");
    let dir = std::env::temp_dir().join(format!("oxbridge-shm-test-{}", std::process::id()));
    std::fs::write(&dir, [0_u8; 4096]).expect("a file");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&dir)
        .expect("open");
    std::fs::remove_file(&dir).expect("remove");
    let why = unusable(Region::map(OwnedFd::from(file), 4096));
    assert!(why.contains("seal"), "{why}");
}

#[test]
fn aligned_bytes_are_read_as_numbers_in_place() {
    let words = [1.5_f64, -2.0, 0.25, 8.0];
    let bytes: Vec<u8> = words.iter().flat_map(|x| x.to_le_bytes()).collect();
    // A Vec<u8> is only byte-aligned: find an 8-aligned start inside a copy.
    let mut room = vec![0_u8; bytes.len() + 8];
    let start = room.as_ptr().align_offset(8);
    room[start..start + bytes.len()].copy_from_slice(&bytes);
    let aligned = &room[start..start + bytes.len()];
    assert_eq!(super::values::<f64>(aligned), Some(&words[..]));
    let complex = super::values::<oxbridge_core::Complex>(aligned).expect("two complex");
    assert_eq!(complex[1], oxbridge_core::Complex::new(0.25, 8.0));
    assert!(
        super::values::<f64>(&room[start + 1..start + 9]).is_none(),
        "misaligned"
    );
    assert!(
        super::values::<f64>(&aligned[..12]).is_none(),
        "not whole values"
    );
    let out = &mut room[start..start + 16];
    super::values_mut::<i64>(out).expect("aligned")[1] = -3;
    assert_eq!(&room[start + 8..start + 16], &(-3_i64).to_le_bytes());
}
