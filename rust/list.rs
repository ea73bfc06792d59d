//! An intrusive, doubly-linked FIFO: null.c's `struct list_head` lists
//! (`prv->waitq`, `prv->ndom`), owned by Rust.
//!
//! Nodes live inside Xen-allocated structures (`NullUnit`, `NullDom`) and
//! are linked and unlinked without allocating, as `wake` and `sleep`
//! require. The links are atomics so that the unlocked "is it queued?" read
//! null.c does (`list_empty(&nvc->waitq_elem)` under the runqueue lock, while
//! another pCPU may hold the waitqueue lock) is not a data race. All
//! modifications happen with the list's lock held: [`List`] is only ever
//! reached through that lock, whose guard gives `&mut List` to change it
//! (so the borrow checker, not a runtime flag, keeps a hook from changing
//! a list it is iterating).

use core::marker::PhantomPinned;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// Links of one node. An unlinked node points at nothing
/// (`INIT_LIST_HEAD` / `list_del_init` state).
///
/// # Invariants
/// Either both links are null (not on a list), or both are non-null and
/// point at nodes of the same [`List`], which contains this node.
pub struct Links {
    next: AtomicPtr<Links>,
    prev: AtomicPtr<Links>,
    _pin: PhantomPinned,
}

impl Links {
    /// Unlinked links.
    pub const fn new() -> Self {
        Self {
            next: AtomicPtr::new(ptr::null_mut()),
            prev: AtomicPtr::new(ptr::null_mut()),
            _pin: PhantomPinned,
        }
    }

    /// Whether the node is on a list (`!list_empty(&elem)`). May be called
    /// without the list's lock; the answer is then only as fresh as the
    /// caller's own synchronisation makes it.
    pub fn is_linked(&self) -> bool {
        !self.next.load(Relaxed).is_null()
    }
}

impl Default for Links {
    fn default() -> Self {
        Self::new()
    }
}

/// Access from a node's [`Links`] to the structure containing it.
///
/// # Safety
/// `links` must return a pointer to a [`Links`] field inside `*this`, and
/// `from_links` must invert it exactly (the `container_of` offset).
pub unsafe trait Adapter {
    /// The structure that contains the links.
    type Node;
    /// Address of the links inside a node.
    fn links(this: NonNull<Self::Node>) -> NonNull<Links>;
    /// The node containing `links`.
    fn from_links(links: NonNull<Links>) -> NonNull<Self::Node>;
}

/// A FIFO list head.
///
/// # Invariants
/// `head`/`tail` are both null (empty) or both point at linked nodes; the
/// nodes form a null-terminated chain from `head` to `tail` via `next`, and
/// back via `prev` (with `prev` of the head and `next` of the tail pointing
/// at the node itself, so "linked" is always non-null).
pub struct List<A: Adapter> {
    head: *mut Links,
    tail: *mut Links,
    _adapter: core::marker::PhantomData<A>,
}

impl<A: Adapter> List<A> {
    /// An empty list (`INIT_LIST_HEAD`).
    pub const fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            _adapter: core::marker::PhantomData,
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Append `node` (`list_add_tail`).
    ///
    /// # Safety
    /// `node` is valid, not on any list, and stays valid (not moved, not
    /// freed) until it is removed from this list.
    pub unsafe fn push_back(&mut self, node: NonNull<A::Node>) {
        let l = A::links(node).as_ptr();
        // SAFETY: the caller guarantees `node` is valid, so are its links.
        let links = unsafe { &*l };
        debug_assert!(!links.is_linked(), "node already on a list");
        if self.tail.is_null() {
            // INVARIANT: a lone node's links point at itself.
            links.prev.store(l, Relaxed);
            links.next.store(l, Relaxed);
            self.head = l;
        } else {
            // SAFETY: `tail` is a linked node of this list (type invariant).
            let tail = unsafe { &*self.tail };
            tail.next.store(l, Relaxed);
            links.prev.store(self.tail, Relaxed);
            links.next.store(l, Relaxed);
        }
        self.tail = l;
    }

    /// Unlink `node` if it is on this list (`list_del_init`); a node on no
    /// list is left alone.
    ///
    /// # Safety
    /// `node` is valid and on this list or on none.
    pub unsafe fn remove(&mut self, node: NonNull<A::Node>) {
        let l = A::links(node).as_ptr();
        // SAFETY: the caller guarantees `node` is valid.
        let links = unsafe { &*l };
        if !links.is_linked() {
            return;
        }
        let prev = links.prev.load(Relaxed);
        let next = links.next.load(Relaxed);
        let is_head = self.head == l;
        let is_tail = self.tail == l;
        match (is_head, is_tail) {
            (true, true) => {
                self.head = ptr::null_mut();
                self.tail = ptr::null_mut();
            }
            (true, false) => {
                self.head = next;
                // SAFETY: `next` is a linked node of this list (invariant).
                unsafe { &*next }.prev.store(next, Relaxed);
            }
            (false, true) => {
                self.tail = prev;
                // SAFETY: `prev` is a linked node of this list (invariant).
                unsafe { &*prev }.next.store(prev, Relaxed);
            }
            (false, false) => {
                // SAFETY: both neighbours are linked nodes of this list.
                unsafe {
                    (*prev).next.store(next, Relaxed);
                    (*next).prev.store(prev, Relaxed);
                }
            }
        }
        // INVARIANT: unlinked links are null.
        links.next.store(ptr::null_mut(), Relaxed);
        links.prev.store(ptr::null_mut(), Relaxed);
    }

    /// The first (oldest) node.
    pub fn first(&self) -> Option<NonNull<A::Node>> {
        NonNull::new(self.head).map(A::from_links)
    }

    /// The node after `node`.
    ///
    /// # Safety
    /// `node` is valid and on this list.
    pub unsafe fn next(&self, node: NonNull<A::Node>) -> Option<NonNull<A::Node>> {
        let l = A::links(node).as_ptr();
        if l == self.tail {
            return None;
        }
        // SAFETY: `node` is a valid node of this list (caller), and not the
        // tail, so its `next` is a linked node of this list (invariant).
        NonNull::new(unsafe { &*l }.next.load(Relaxed)).map(A::from_links)
    }

    /// Insert `node` before `before`, or at the back if `before` is `None`.
    ///
    /// # Safety
    /// As for [`List::push_back`]; `before`, if any, is a node of this list.
    pub unsafe fn insert_before(
        &mut self,
        node: NonNull<A::Node>,
        before: Option<NonNull<A::Node>>,
    ) {
        let Some(before) = before else {
            // SAFETY: the caller's guarantees are push_back's.
            return unsafe { self.push_back(node) };
        };
        let l = A::links(node).as_ptr();
        let b = A::links(before).as_ptr();
        // SAFETY: `node` is valid (caller), and so are its links.
        let links = unsafe { &*l };
        // SAFETY: `before` is a linked node of this list (caller).
        let blinks = unsafe { &*b };
        debug_assert!(!links.is_linked(), "node already on a list");
        if self.head == b {
            // INVARIANT: the head's `prev` points at itself.
            links.prev.store(l, Relaxed);
            self.head = l;
        } else {
            let prev = blinks.prev.load(Relaxed);
            // SAFETY: `before` is not the head, so its `prev` is a linked
            // node of this list (invariant).
            unsafe { &*prev }.next.store(l, Relaxed);
            links.prev.store(prev, Relaxed);
        }
        links.next.store(b, Relaxed);
        blinks.prev.store(l, Relaxed);
    }

    /// The nodes, oldest first. The list must not change while the iterator
    /// lives (it borrows the list).
    pub fn iter(&self) -> Iter<'_, A> {
        Iter {
            cur: self.head,
            tail: self.tail,
            _list: self,
        }
    }
}

// SAFETY: a list is a pair of pointers to nodes whose validity the pusher
// guaranteed; nothing in it is tied to one pCPU. It is shared only behind a
// lock (see the module documentation).
unsafe impl<A: Adapter> Send for List<A> {}

impl<A: Adapter> Default for List<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// Iterator over a [`List`].
pub struct Iter<'a, A: Adapter> {
    cur: *mut Links,
    tail: *mut Links,
    _list: &'a List<A>,
}

impl<A: Adapter> Iterator for Iter<'_, A> {
    type Item = NonNull<A::Node>;

    fn next(&mut self) -> Option<Self::Item> {
        let cur = NonNull::new(self.cur)?;
        self.cur = if self.cur == self.tail {
            ptr::null_mut()
        } else {
            // SAFETY: `cur` is a linked node of the borrowed list, which
            // cannot change while borrowed.
            unsafe { cur.as_ref() }.next.load(Relaxed)
        };
        Some(A::from_links(cur))
    }
}

/// Implement [`Adapter`] for `$node`'s field `$field`.
#[macro_export]
macro_rules! list_adapter {
    ($vis:vis $adapter:ident, $node:ty, $field:ident) => {
        /// List adapter (see [`crate::list::Adapter`]).
        $vis struct $adapter;
        // SAFETY: `links` and `from_links` use the same field offset.
        unsafe impl $crate::list::Adapter for $adapter {
            type Node = $node;
            fn links(this: core::ptr::NonNull<$node>) -> core::ptr::NonNull<$crate::list::Links> {
                // SAFETY: a field of a non-null node pointer is non-null.
                unsafe {
                    core::ptr::NonNull::new_unchecked(core::ptr::addr_of_mut!((*this.as_ptr()).$field))
                }
            }
            fn from_links(links: core::ptr::NonNull<$crate::list::Links>) -> core::ptr::NonNull<$node> {
                let off = core::mem::offset_of!($node, $field);
                // SAFETY: `links` points `off` bytes into a node (Adapter
                // contract), so stepping back stays in the same allocation.
                unsafe { core::ptr::NonNull::new_unchecked(links.as_ptr().byte_sub(off).cast::<$node>()) }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    struct Node {
        val: u32,
        links: Links,
    }
    crate::list_adapter!(NodeAdapter, Node, links);

    fn vals(l: &List<NodeAdapter>) -> Vec<u32> {
        // SAFETY: every node pushed below outlives the list.
        l.iter().map(|n| unsafe { n.as_ref() }.val).collect()
    }

    #[test]
    fn fifo_push_remove_anywhere() {
        let mut nodes: Vec<Node> = (0..5)
            .map(|val| Node {
                val,
                links: Links::new(),
            })
            .collect();
        let ptrs: Vec<NonNull<Node>> = nodes.iter_mut().map(NonNull::from).collect();
        let mut l = List::<NodeAdapter>::new();
        assert!(l.is_empty());
        for &p in &ptrs {
            // SAFETY: nodes live (in `nodes`) longer than the list and are
            // not moved.
            unsafe { l.push_back(p) };
        }
        assert_eq!(vals(&l), [0, 1, 2, 3, 4]);
        let remove = |l: &mut List<NodeAdapter>, i: usize| {
            // SAFETY: the nodes outlive the list and are on it or on none.
            unsafe { l.remove(ptrs[i]) }
        };
        let push = |l: &mut List<NodeAdapter>, i: usize| {
            // SAFETY: the node outlives the list and is on no list.
            unsafe { l.push_back(ptrs[i]) }
        };
        remove(&mut l, 2);
        assert_eq!(vals(&l), [0, 1, 3, 4]);
        remove(&mut l, 0);
        remove(&mut l, 4);
        assert_eq!(vals(&l), [1, 3]);
        remove(&mut l, 4); // not linked: no-op
        assert!(!nodes_linked(&ptrs, 4));
        push(&mut l, 0);
        assert_eq!(vals(&l), [1, 3, 0]);
        let insert = |l: &mut List<NodeAdapter>, i: usize, before: Option<usize>| {
            // SAFETY: the nodes outlive the list; `i` is on no list and
            // `before` on this one.
            unsafe { l.insert_before(ptrs[i], before.map(|b| ptrs[b])) }
        };
        insert(&mut l, 2, Some(1)); // at the head
        insert(&mut l, 4, Some(0)); // in the middle
        assert_eq!(vals(&l), [2, 1, 3, 4, 0]);
        remove(&mut l, 0);
        insert(&mut l, 0, None); // at the tail
        assert_eq!(vals(&l), [2, 1, 3, 4, 0]);
        let first = l.first().unwrap();
        // SAFETY: `first` is on the list.
        let second = unsafe { l.next(first) }.unwrap();
        // SAFETY: node 0 (the tail) is on the list.
        assert!(unsafe { l.next(ptrs[0]) }.is_none());
        // SAFETY: alive for the test.
        assert_eq!(unsafe { second.as_ref() }.val, 1);
        for i in [2, 4] {
            remove(&mut l, i);
        }
        remove(&mut l, 1);
        remove(&mut l, 3);
        remove(&mut l, 0);
        assert!(l.is_empty());
        assert!((0..5).all(|i| !nodes_linked(&ptrs, i)));
        drop(nodes);
    }

    fn nodes_linked(ptrs: &[NonNull<Node>], i: usize) -> bool {
        // SAFETY: the node is alive for the test's duration.
        unsafe { ptrs[i].as_ref() }.links.is_linked()
    }
}
